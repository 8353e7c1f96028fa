/** Header names of the dfstore protocol (PROTOCOL.md §4). Lower-case for lookups. */
export const Headers = {
  objectOperation: 'x-dragonfly-object-operation',
  digest: 'x-dragonfly-object-meta-digest',
  lastModifiedTime: 'x-dragonfly-object-meta-last-modified-time',
  storageClass: 'x-dragonfly-object-meta-storage-class',
  filter: 'x-dragonfly-filter',
  tag: 'x-dragonfly-tag',
} as const;

/** Canonical spelling used when writing headers (matches upstream). */
export const HeaderNames = {
  objectOperation: 'X-Dragonfly-Object-Operation',
  digest: 'X-Dragonfly-Object-Meta-Digest',
  lastModifiedTime: 'X-Dragonfly-Object-Meta-Last-Modified-Time',
  storageClass: 'X-Dragonfly-Object-Meta-Storage-Class',
} as const;

/** Value of `X-Dragonfly-Object-Operation` for a server-side copy. */
export const COPY_OPERATION = 'copy';

/** Storage class reported when the backend gives none. */
export const DEFAULT_STORAGE_CLASS = 'STANDARD';

/** Backend user-metadata key holding the object digest (`md5:<hex>`). */
export const DIGEST_METADATA_KEY = 'digest';

/** Marks a PUT as a replica pushed by another daemon (docs/P2P.md): import only, no fan-out. */
export const REPLICA_HEADER = 'X-Dfstore-Replica';
