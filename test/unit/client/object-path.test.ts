import { describe, expect, it } from 'vitest';
import { createApiApp } from '../../../lib/api/create-app.ts';
import type { ObjectService } from '../../../lib/api/object-service.ts';
import type { ObjectMetadata } from '../../../lib/backends/object-backend.ts';
import { bucketPath, objectPath, withQuery } from '../../../lib/client/object-path.ts';

/** The API app over a service that only records which bucket and key a HEAD named. */
function recordingApp() {
  const seen: { bucket: string; key: string }[] = [];
  const headObject = async (bucket: string, key: string): Promise<ObjectMetadata> => {
    seen.push({ bucket, key });
    return { key, contentLength: 0, etag: '"e"', lastModified: new Date(0) };
  };
  const service = { headObject } as unknown as ObjectService;
  return { app: createApiApp({ service }), seen };
}

const oddKeys = [
  'plain.txt',
  'with space.txt',
  'a+b=c&d',
  '100%',
  '%41 not decoded twice',
  'what?x=1',
  'hash#tag',
  'dir/sub/',
  '/leading-slash',
  'a//double',
  '日本語/ファイル 😀.bin',
  'quote\'"<>|\\:*',
  'semi;colon,comma@at$dollar',
  'tab\there',
  '~tilde!(paren)',
];

describe('objectPath', () => {
  it.each(oddKeys)('delivers key %j intact to the API', async (key) => {
    const { app, seen } = recordingApp();
    const path = objectPath('bucket', key);
    expect(path).toMatch(/^[\x21-\x7e]+$/); // a valid request-target: ASCII, no spaces
    const response = await app.request(path, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(seen).toEqual([{ bucket: 'bucket', key }]);
  });

  it('keeps / as the segment separator and encodes everything else in a segment', () => {
    expect(objectPath('b', 'a b/c+d/')).toBe('/buckets/b/objects/a%20b/c%2Bd/');
    expect(objectPath('b', 'x?#%')).toBe('/buckets/b/objects/x%3F%23%25');
    expect(objectPath('b', "it's(1)*!")).toBe('/buckets/b/objects/it%27s%281%29%2A%21');
    expect(bucketPath('my-bucket')).toBe('/buckets/my-bucket');
  });

  it('adds only non-empty query parameters', () => {
    expect(withQuery('/p', { filter: undefined, limit: '' })).toBe('/p');
    expect(withQuery('/p', { prefix: 'a b&c', limit: 10 })).toBe('/p?prefix=a+b%26c&limit=10');
  });
});
