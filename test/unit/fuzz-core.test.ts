import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDfsUrl, hasDotSegment, isDfsUrl, parseDfsUrl } from '../../lib/core/dfs-url.ts';
import { formatDigest, parseDigest, tryParseDigest } from '../../lib/core/digest.ts';
import { DfstoreError } from '../../lib/core/errors.ts';
import { HeaderNames, Headers } from '../../lib/core/headers.ts';
import { MAX_KEY_BYTES, validateBucketName, validateObjectKey } from '../../lib/core/names.ts';
import {
  computePieceCount,
  computePieceSize,
  MAX_PIECE_SIZE,
  pieceRange,
} from '../../lib/core/piece-size.ts';
import {
  formatContentRange,
  formatRangeHeader,
  parseRangeHeader,
  type RangeSpec,
  resolveRange,
} from '../../lib/core/range.ts';
import { filterUrlQuery, parseFilter, taskIdV1 } from '../../lib/core/task-id.ts';
import { parseWriteMode } from '../../lib/core/write-mode.ts';

// Properties over the lib/core parsers: whatever the input, they return or throw one of the
// project's typed errors (never a TypeError, RangeError or URIError), and the formats that have
// a parser round-trip through it. Fixed seed, so a CI failure replays the same way.
const SEED = 0x9d15;
const RUNS = 2_000;
const params = { seed: SEED, numRuns: RUNS };

/** Runs `fn`; an exception other than a DfstoreError fails the property. */
function typedOnly<T>(fn: () => T): T | DfstoreError {
  try {
    return fn();
  } catch (error) {
    if (error instanceof DfstoreError) return error;
    throw error;
  }
}

/** Strings that reach edge cases of these parsers more often than uniform text does. */
const hostile = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc
    .array(
      fc.constantFrom(
        '/',
        '.',
        '..',
        '%2e',
        '%2F',
        '%',
        '%zz',
        '\0',
        '?',
        '#',
        ':',
        '@',
        '-',
        ',',
        '=',
        '&',
        'bytes=',
        'md5:',
        'sha256:',
        'dfs://',
        ' ',
        '\t',
        'é',
        '𝄞',
        '\uD800',
        '9'.repeat(20),
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('')),
);

describe('fuzz lib/core', () => {
  it('parseRangeHeader and resolveRange throw only RangeNotSatisfiableError', () => {
    const header = fc.oneof(
      hostile,
      fc
        .tuple(fc.option(fc.nat()), fc.option(fc.nat()))
        .map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
    );
    fc.assert(
      fc.property(header, fc.nat({ max: 2 ** 40 }), (value, size) => {
        const spec = typedOnly(() => parseRangeHeader(value));
        if (spec instanceof DfstoreError) {
          expect(spec.statusCode).toBe(416);
          return;
        }
        const resolved = typedOnly(() => resolveRange(spec, size));
        if (resolved instanceof DfstoreError) {
          expect(resolved.statusCode).toBe(416);
          return;
        }
        expect(resolved.start).toBeGreaterThanOrEqual(0);
        expect(resolved.end).toBeLessThan(size);
        expect(resolved.length).toBe(resolved.end - resolved.start + 1);
        expect(resolved.length).toBeGreaterThan(0);
      }),
      params,
    );
  });

  it('a formatted range parses back to itself, and Content-Range names its bounds', () => {
    const spec: fc.Arbitrary<RangeSpec> = fc.oneof(
      fc.nat().map((suffix) => ({ suffix })),
      fc.nat().map((start) => ({ start })),
      fc
        .tuple(fc.nat(), fc.nat())
        .map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
    );
    fc.assert(
      fc.property(spec, fc.integer({ min: 1, max: 2 ** 40 }), (range, size) => {
        expect(parseRangeHeader(formatRangeHeader(range))).toEqual(range);
        const resolved = typedOnly(() => resolveRange(range, size));
        if (resolved instanceof DfstoreError) return;
        expect(formatContentRange(resolved, size)).toBe(
          `bytes ${resolved.start}-${resolved.end}/${size}`,
        );
      }),
      params,
    );
  });

  it('digests: parse(format(x)) === x, and junk is rejected with a ValidationError', () => {
    const md5 = fc.stringMatching(/^[0-9a-fA-F]{32}$/).map((hex) => ['md5', hex] as const);
    const sha = fc.stringMatching(/^[0-9a-fA-F]{64}$/).map((hex) => ['sha256', hex] as const);
    fc.assert(
      fc.property(fc.oneof(md5, sha), ([algorithm, hex]) => {
        const text = formatDigest(algorithm, hex);
        expect(parseDigest(text)).toEqual({ algorithm, hex: hex.toLowerCase() });
        expect(formatDigest(algorithm, parseDigest(text).hex)).toBe(text);
      }),
      params,
    );
    fc.assert(
      fc.property(hostile, (value) => {
        const parsed = typedOnly(() => parseDigest(value));
        if (parsed instanceof DfstoreError) {
          expect(parsed.statusCode).toBe(422);
          expect(tryParseDigest(value)).toBeUndefined();
        } else expect(tryParseDigest(value)).toEqual(parsed);
      }),
      params,
    );
  });

  it('dfs URLs: parse never throws untyped, and format → parse round-trips valid keys', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          hostile,
          hostile.map((s) => `dfs://${s}`),
        ),
        (value) => {
          const parsed = typedOnly(() => parseDfsUrl(value, { allowEmptyKey: true }));
          typedOnly(() => hasDotSegment(value));
          typedOnly(() => isDfsUrl(value));
          if (parsed instanceof DfstoreError) {
            expect(parsed.statusCode).toBe(422);
            return;
          }
          expect(isDfsUrl(value)).toBe(true);
          // Whatever was accepted names the same object once formatted again.
          expect(parseDfsUrl(formatDfsUrl(parsed), { allowEmptyKey: true })).toEqual(parsed);
        },
      ),
      params,
    );
    const bucket = fc.stringMatching(/^[a-z0-9][a-z0-9-]{1,20}[a-z0-9]$/);
    const segment = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
      .filter((s) => s !== '.' && s !== '..' && !s.includes('/'));
    const key = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));
    fc.assert(
      fc.property(bucket, key, (b, k) => {
        expect(parseDfsUrl(formatDfsUrl({ bucket: b, key: k }))).toEqual({ bucket: b, key: k });
      }),
      params,
    );
  });

  it('bucket names and keys: accepted values satisfy the documented rules', () => {
    fc.assert(
      fc.property(hostile, (value) => {
        const bucket = typedOnly(() => validateBucketName(value));
        if (!(bucket instanceof DfstoreError)) {
          expect(bucket).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
          expect(bucket).not.toContain('..');
        }
        const key = typedOnly(() => validateObjectKey(value));
        if (key instanceof DfstoreError) {
          expect(key.statusCode).toBe(422);
          return;
        }
        expect(key).not.toBe('');
        expect(key).not.toContain('\0');
        expect(Buffer.byteLength(key)).toBeLessThanOrEqual(MAX_KEY_BYTES);
        expect(key.split('/')).not.toContain('..');
        expect(key.split('/')).not.toContain('.');
      }),
      params,
    );
    const long = fc.string({ unit: 'grapheme', minLength: 300, maxLength: 1200 });
    fc.assert(
      fc.property(long, (value) => {
        const key = typedOnly(() => validateObjectKey(value));
        if (Buffer.byteLength(value) > MAX_KEY_BYTES) expect(key).toBeInstanceOf(DfstoreError);
      }),
      { ...params, numRuns: 200 },
    );
  });

  it('write modes: only 0, 1, 2 and empty are accepted; everything else is a 422', () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.nat().map(String), fc.constant(undefined)), (value) => {
        const mode = typedOnly(() => parseWriteMode(value));
        if (mode instanceof DfstoreError) {
          expect(mode.statusCode).toBe(422);
          return;
        }
        expect([0, 1, 2]).toContain(mode);
        if (value) expect(Number(value)).toBe(mode);
      }),
      params,
    );
  });

  it('task ids: 64 lower-case hex for any input; the empty filter leaves the URL alone', () => {
    const url = fc.oneof(fc.webUrl({ withQueryParameters: true, withFragments: true }), hostile);
    const meta = fc.record(
      { filter: hostile, digest: hostile, range: hostile, tag: hostile, application: hostile },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(url, meta, (u, m) => {
        expect(taskIdV1(u, m)).toMatch(/^[0-9a-f]{64}$/);
        expect(filterUrlQuery(u, [])).toBe(u);
        const filters = parseFilter(m.filter);
        const filtered = filterUrlQuery(u, filters);
        // Filtering is idempotent: what it keeps is already in canonical order.
        expect(filterUrlQuery(filtered, filters)).toBe(filtered);
      }),
      params,
    );
  });

  it('piece sizes: 4..15 MiB, and the pieces tile the object exactly', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 44 }), (length) => {
        const size = computePieceSize(length);
        expect(size).toBeGreaterThanOrEqual(4 * 1024 * 1024);
        expect(size).toBeLessThanOrEqual(MAX_PIECE_SIZE);
        const count = computePieceCount(length, size);
        if (count === 0) {
          expect(length).toBe(0);
          return;
        }
        const last = pieceRange(count - 1, size, length);
        expect(last.end).toBe(length - 1);
        expect(last.length).toBeGreaterThan(0);
      }),
      params,
    );
  });

  it('header names: lookups are the lower-case of the canonical spellings', () => {
    for (const [name, canonical] of Object.entries(HeaderNames)) {
      expect(Headers[name as keyof typeof HeaderNames]).toBe(canonical.toLowerCase());
    }
  });
});
