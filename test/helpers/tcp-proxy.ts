import { connect, createServer, type Server } from 'node:net';
import { listenPausably } from './pausable-listener.ts';

/**
 * A TCP proxy on 127.0.0.1 between a process under test and a server, for outages: pause()
 * stops listening and cuts every open connection (new ones are refused, as when the server is
 * down), resume() listens again on the same port.
 */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1 (the same across pause/resume). */
  readonly port: number;
  /** Connections proxied so far. */
  readonly connections: number;
  /** Stops listening and destroys open connections; resolves once the listener is closed. */
  pause(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
  /** Stops for good (like pause). Idempotent. */
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let connections = 0;
  const server: Server = createServer({ noDelay: true }, (client) => {
    connections++;
    const upstream = connect({ host: targetHost, port: targetPort, noDelay: true });
    const pair = [client, upstream];
    for (const socket of pair) {
      // Either side failing or closing takes the other down: no half-proxied connections.
      socket.on('error', () => cut());
      socket.on('close', () => cut());
    }
    function cut(): void {
      for (const socket of pair) socket.destroy();
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listener = await listenPausably(server, '127.0.0.1');
  return {
    get port() {
      return listener.port;
    },
    get connections() {
      return connections;
    },
    pause: () => listener.pause(),
    resume: () => listener.resume(),
    close: () => listener.pause(),
  };
}
