import { hostname, networkInterfaces } from 'node:os';
import type { PeerConfig } from '../config/peer-config.ts';
import type { NodeRef } from './p2p-protocol.ts';

/**
 * How other daemons know this one (docs/P2P.md): `host.advertiseIP`, else the piece listener's
 * address, else (a wildcard listener) the first non-internal IPv4 address; `host.id`, else
 * `<hostname>-<advertiseIP>-<piece port>`.
 */
export function resolveIdentity(config: PeerConfig, piecePort: number): NodeRef {
  const listen = config.upload.tcpListen.listen;
  const wildcard = listen === '0.0.0.0' || listen === '::';
  const ip = config.host.advertiseIP ?? (wildcard ? firstExternalIPv4() : listen);
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return {
    peerId: config.host.id ?? `${hostname()}-${ip}-${piecePort}`,
    pieces: `http://${host}:${piecePort}`,
  };
}

function firstExternalIPv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}
