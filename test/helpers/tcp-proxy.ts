import { connect, createServer, type Server, type Socket } from 'node:net';

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
  const open = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer({ noDelay: true }, (client) => {
    connections++;
    const upstream = connect({ host: targetHost, port: targetPort, noDelay: true });
    const pair = [client, upstream];
    for (const socket of pair) {
      open.add(socket);
      // Either side failing or closing takes the other down: no half-proxied connections.
      socket.on('error', () => cut());
      socket.on('close', () => {
        open.delete(socket);
        cut();
      });
    }
    function cut(): void {
      for (const socket of pair) socket.destroy();
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  let port = 0;
  let listening = false;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        server.off('error', reject);
        listening = true;
        const address = server.address();
        if (address && typeof address === 'object') port = address.port;
        resolve();
      });
    });

  const pause = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of open) socket.destroy();
    await closed;
  };

  await listen();
  return {
    get port() {
      return port;
    },
    get connections() {
      return connections;
    },
    pause,
    async resume() {
      if (!listening) await listen();
    },
    close: pause,
  };
}
