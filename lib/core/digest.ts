import { ValidationError } from './errors.ts';

/** Digest algorithms dfstore uses: md5 for the object digest (upstream), sha256 for pieces. */
export type DigestAlgorithm = 'md5' | 'sha256';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  readonly hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { md5: 32, sha256: 64 };

/** Formats `algorithm:hex`, e.g. `md5:9e107d9d372bb6826bd81d3542a419d6`. */
export function formatDigest(algorithm: DigestAlgorithm, hex: string): string {
  return `${algorithm}:${hex.toLowerCase()}`;
}

/** Parses `md5:<32 hex>` or `sha256:<64 hex>`; throws ValidationError otherwise. */
export function parseDigest(value: string): Digest {
  const digest = tryParseDigest(value);
  if (!digest) throw new ValidationError(`invalid digest ${JSON.stringify(value)}`);
  return digest;
}

/** Like parseDigest but returns undefined for an invalid string. */
export function tryParseDigest(value: string): Digest | undefined {
  const sep = value.indexOf(':');
  if (sep < 0) return undefined;
  const algorithm = value.slice(0, sep).toLowerCase();
  const hex = value.slice(sep + 1).toLowerCase();
  if (algorithm !== 'md5' && algorithm !== 'sha256') return undefined;
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) return undefined;
  return { algorithm, hex };
}
