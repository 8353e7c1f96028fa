import { ValidationError } from './errors.ts';

/** Upstream's write modes, sent as the decimal `mode` form field. */
export const WriteMode = {
  /** Ack once the peer holds the object durably and journaled; backend and replicas follow. */
  AsyncWriteBack: 0,
  /** Ack once the peer and the backend both hold the object. */
  WriteBack: 1,
  /** Peer cache only: the replication target mode, no backend write. */
  Ephemeral: 2,
} as const;

export type WriteMode = (typeof WriteMode)[keyof typeof WriteMode];

export const DEFAULT_WRITE_MODE: WriteMode = WriteMode.AsyncWriteBack;

/** Parses the `mode` form field: a decimal 0, 1 or 2. */
export function parseWriteMode(value: string | undefined): WriteMode {
  if (value === undefined || value === '') return DEFAULT_WRITE_MODE;
  if (!/^\d+$/.test(value)) throw new ValidationError(`invalid mode ${JSON.stringify(value)}`);
  const mode = Number(value);
  if (mode !== 0 && mode !== 1 && mode !== 2) {
    throw new ValidationError(`invalid mode ${mode}: must be 0, 1 or 2`);
  }
  return mode;
}

export function writeModeName(mode: WriteMode): string {
  return ['AsyncWriteBack', 'WriteBack', 'Ephemeral'][mode] ?? String(mode);
}
