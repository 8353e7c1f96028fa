import type { Server, Socket } from 'node:net';

/**
 * Listening with outages, for the test proxies: pause() stops listening and destroys every open
 * connection (new ones are refused, as when a server is down), resume() listens again on the
 * same port. The server's connections are tracked from the moment this is called.
 */
export interface PausableListener {
  /** The port (chosen by the OS on the first listen when 0). */
  readonly port: number;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export async function listenPausably(
  server: Server,
  host: string,
  initialPort = 0,
): Promise<PausableListener> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let port = initialPort;
  let listening = false;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        listening = true;
        const address = server.address();
        if (address && typeof address === 'object') port = address.port;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async pause() {
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async resume() {
      if (!listening) await listen();
    },
  };
}
