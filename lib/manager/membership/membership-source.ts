/** A seed peer as `GET /api/v1/seed-peers` serves it. */
export interface SeedPeer {
  readonly id: string;
  readonly hostname: string;
  readonly ip: string;
  /** The object API port (Dragonfly's objectStorage port). */
  readonly port: number;
  /** The piece server port (Dragonfly's upload/download port). */
  readonly downloadPort: number;
  readonly state: 'active';
}

/**
 * Where the live seed-peer list comes from (static config, Cloud Map). `list()` throws
 * `MembershipError` when the source cannot be read; it never leaks SDK errors.
 */
export interface MembershipSource {
  list(): Promise<SeedPeer[]>;
}
