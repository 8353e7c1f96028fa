/** A non-2xx answer of another daemon's piece server (`{"errors", "code"}` body). */
export class P2pHttpError extends Error {
  override readonly name = 'P2pHttpError';
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}
