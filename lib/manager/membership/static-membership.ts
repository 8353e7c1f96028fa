import type { StaticSeedPeer } from '../../config/manager-config.ts';
import type { MembershipSource, SeedPeer } from './membership-source.ts';

/** A fixed seed-peer list from the manager config; `id` defaults to `hostname-ip-port`. */
export function createStaticMembership(peers: readonly StaticSeedPeer[]): MembershipSource {
  const list: SeedPeer[] = peers.map((peer) => ({
    id: peer.id ?? `${peer.hostname}-${peer.ip}-${peer.port}`,
    hostname: peer.hostname,
    ip: peer.ip,
    port: peer.port,
    downloadPort: peer.downloadPort,
    state: 'active',
  }));
  return { list: async () => list.map((peer) => ({ ...peer })) };
}
