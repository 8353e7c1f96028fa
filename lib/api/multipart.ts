import { PassThrough, Readable } from 'node:stream';
import { Busboy, type BusboyInstance } from '@fastify/busboy';
import { ValidationError } from '../core/errors.ts';

/** Limits on the non-file fields of a PUT form (the file itself streams, unbounded here). */
const LIMITS = { fields: 16, fieldSize: 4096, files: 1, parts: 32, headerPairs: 32 };

export interface FilePart {
  readonly stream: Readable;
  readonly fileName?: string;
  readonly contentType?: string;
}

export interface StreamingForm {
  /** Resolves with the `file` part as soon as its headers arrive; rejects if the form has none. */
  readonly file: Promise<FilePart>;
  /** Resolves with every text field once the whole body has been parsed. */
  readonly fields: Promise<Map<string, string>>;
}

/**
 * Parses `multipart/form-data` as it streams: fields are collected (small, bounded), the part
 * named `file` is handed out as a stream, whatever its position in the form. Nothing is buffered
 * beyond the parser's window. Malformed bodies reject with ValidationError (422).
 */
export function parseMultipartStream(
  body: Readable,
  headers: { 'content-type'?: string },
): StreamingForm {
  const contentType = headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    const error = new ValidationError('Content-Type must be multipart/form-data');
    body.resume();
    const file = Promise.reject(error);
    const fields = Promise.reject(error);
    // Either may be awaited alone; neither may surface as an unhandled rejection.
    file.catch(() => {});
    fields.catch(() => {});
    return { file, fields };
  }
  let resolveFile!: (part: FilePart) => void;
  let rejectFile!: (error: Error) => void;
  const file = new Promise<FilePart>((resolve, reject) => {
    resolveFile = resolve;
    rejectFile = reject;
  });
  const fields = new Promise<Map<string, string>>((resolve, reject) => {
    const values = new Map<string, string>();
    let sawFile = false;
    let parser: BusboyInstance;
    try {
      parser = new Busboy({ headers: { 'content-type': contentType }, limits: LIMITS });
    } catch (error) {
      fail(new ValidationError(`invalid multipart body: ${(error as Error).message}`));
      return;
    }
    function fail(error: Error): void {
      rejectFile(error);
      reject(error);
      body.unpipe();
      body.resume();
    }
    parser.on('field', (name, value, nameTruncated, valueTruncated) => {
      if (nameTruncated || valueTruncated)
        return fail(new ValidationError(`form field ${name} is too long`));
      values.set(name, value);
    });
    parser.on('file', (name, stream, fileName, _encoding, mimeType) => {
      // A truncated body makes busboy emit 'error' on the part's stream: unheard, that is an
      // uncaught exception (the daemon dies). The `file` part's consumer gets a 422 instead.
      stream.on('error', () => {});
      if (name !== 'file' || sawFile) {
        stream.resume();
        if (name === 'file') fail(new ValidationError('more than one file part'));
        return;
      }
      sawFile = true;
      const part = new PassThrough();
      // Errors may come before the service reads the part: kept, not thrown, until then.
      part.on('error', () => {});
      stream.on('error', (error) =>
        part.destroy(new ValidationError(`invalid multipart body: ${error.message}`)),
      );
      resolveFile({ stream: stream.pipe(part), fileName, contentType: mimeType });
    });
    for (const event of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      parser.on(event, () => fail(new ValidationError('too many parts in multipart body')));
    }
    parser.on('error', (error: Error) =>
      fail(new ValidationError(`invalid multipart body: ${error.message}`)),
    );
    parser.on('finish', () => {
      if (!sawFile) rejectFile(new ValidationError('file is required'));
      resolve(values);
    });
    body.on('error', (error) => fail(error));
    body.pipe(parser);
  });
  // Either promise may be awaited alone; keep the other from reporting an unhandled rejection.
  file.catch(() => {});
  fields.catch(() => {});
  return { file, fields };
}

/** The request body as a Node stream (the IncomingMessage itself under @hono/node-server). */
export function nodeBody(request: Request, incoming?: Readable): Readable {
  if (incoming) return incoming;
  if (!request.body) return Readable.from([]);
  return Readable.fromWeb(request.body as import('node:stream/web').ReadableStream<Uint8Array>);
}
