import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { OssError } from './oss-error.ts';

const builder = new XMLBuilder({});
const parser = new XMLParser({
  parseTagValue: false,
  isArray: (name) => name === 'Part',
});

/** The one account of the test server, as OSS reports owners in listings. */
export const OWNER = { ID: '1234567890123456', DisplayName: '1234567890123456' };

/** An XML document with `root` holding `body` (entities escaped by the builder). */
export function toXml(root: string, body: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: body })}`;
}

export function errorXml(error: OssError, requestId: string, hostId: string): string {
  return toXml('Error', {
    Code: error.code,
    Message: error.message,
    RequestId: requestId,
    HostId: hostId,
    ...error.details,
  });
}

export interface CompletePart {
  readonly partNumber: number;
  readonly etag: string;
}

/** Parses a CompleteMultipartUpload body; malformed documents throw MalformedXML as OSS does. */
export function parseCompleteMultipartUpload(xml: string): CompletePart[] {
  const malformed = new OssError(
    400,
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema.',
  );
  let doc: { CompleteMultipartUpload?: { Part?: { PartNumber?: unknown; ETag?: unknown }[] } };
  try {
    doc = parser.parse(xml, true);
  } catch {
    throw malformed;
  }
  const parts = doc.CompleteMultipartUpload?.Part;
  if (!Array.isArray(parts) || parts.length === 0) throw malformed;
  return parts.map((part) => {
    const partNumber = Number(part.PartNumber);
    if (!Number.isInteger(partNumber) || typeof part.ETag !== 'string') throw malformed;
    return { partNumber, etag: part.ETag };
  });
}
