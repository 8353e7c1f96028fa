import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface MultipartFile {
  /** Form field name (`file` for dfstore uploads). */
  readonly field: string;
  readonly filename: string;
  readonly contentType: string;
  readonly body: Readable | AsyncIterable<Uint8Array>;
  /** Exact byte length of `body`, when known: the whole form's length is then known too. */
  readonly size?: number;
}

export interface MultipartBody {
  /** `multipart/form-data; boundary=…` */
  readonly contentType: string;
  /** Exact length of the bytes `stream` yields, when every part's size is known. */
  readonly contentLength?: number;
  /** The encoded form, produced as it is read: the file streams through, never held whole. */
  readonly stream: Readable;
}

export interface MultipartOptions {
  /** Fixed boundary (tests); 60 random hex characters by default, like Go's multipart.Writer. */
  readonly boundary?: string;
}

/**
 * Encodes `multipart/form-data` on the fly: text fields in the given order, then an optional file
 * part, the same bytes Go's mime/multipart writer produces (CRLF line ends, no preamble). When
 * `file.size` is given the stream checks that the body yields exactly that many bytes, so a file
 * that changes while uploading fails loudly instead of sending a form of the wrong length.
 */
export function encodeMultipart(
  fields: ReadonlyArray<readonly [name: string, value: string]>,
  file?: MultipartFile,
  options: MultipartOptions = {},
): MultipartBody {
  const boundary = options.boundary ?? randomBytes(30).toString('hex');
  const parts = fields.map(([name, value], index) => fieldPart(boundary, name, value, index === 0));
  const fileHead = file
    ? Buffer.from(
        `${fields.length === 0 ? '' : '\r\n'}--${boundary}\r\n` +
          `Content-Disposition: form-data; name="${escapeQuotes(file.field)}"; ` +
          `filename="${escapeQuotes(file.filename)}"\r\n` +
          `Content-Type: ${file.contentType}\r\n\r\n`,
        'utf8',
      )
    : undefined;
  const head = Buffer.concat(fileHead ? [...parts, fileHead] : parts);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  const size = file ? file.size : 0;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: size === undefined ? undefined : head.length + size + tail.length,
    stream: Readable.from(generate(head, file, tail), { objectMode: false }),
  };
}

async function* generate(
  head: Buffer,
  file: MultipartFile | undefined,
  tail: Buffer,
): AsyncGenerator<Buffer> {
  yield head;
  if (file) {
    let sent = 0;
    for await (const chunk of file.body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      sent += buffer.length;
      if (file.size !== undefined && sent > file.size) {
        throw new Error(`${file.filename}: body is longer than its declared ${file.size} bytes`);
      }
      yield buffer;
    }
    if (file.size !== undefined && sent !== file.size) {
      throw new Error(`${file.filename}: body ended after ${sent} of ${file.size} bytes`);
    }
  }
  yield tail;
}

/** A form of text fields only, small enough to build in memory (the copy request). */
export function encodeMultipartFields(
  fields: ReadonlyArray<readonly [name: string, value: string]>,
  options: MultipartOptions = {},
): { readonly contentType: string; readonly body: Buffer } {
  const boundary = options.boundary ?? randomBytes(30).toString('hex');
  const parts = fields.map(([name, value], index) => fieldPart(boundary, name, value, index === 0));
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8'));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(parts) };
}

function fieldPart(boundary: string, name: string, value: string, first: boolean): Buffer {
  return Buffer.from(
    `${first ? '' : '\r\n'}--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${escapeQuotes(name)}"\r\n\r\n${value}`,
    'utf8',
  );
}

/**
 * Quoted-string escaping of a Content-Disposition parameter: `\` and `"` backslash-escaped as Go
 * does (Go's reader and busboy both undo it), CR, LF and NUL percent-encoded as browsers do (they
 * would otherwise end the header). Other characters, unicode included, are sent as raw UTF-8.
 */
export function escapeQuotes(value: string): string {
  return value
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/[\r\n\0]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}
