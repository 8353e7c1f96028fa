import { InsufficientStorageError } from '../core/errors.ts';

/** Whether a file-system error means "no room": a full disk or an exhausted quota. */
export function isNoSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** `error` as an InsufficientStorageError (the cause kept) when it means "no room", else as is. */
export function asNoSpaceError(error: unknown): unknown {
  if (!isNoSpace(error) || error instanceof InsufficientStorageError) return error;
  return new InsufficientStorageError("no space left in the peer's cache", { cause: error });
}
