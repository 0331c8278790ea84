import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Starts `server` on 127.0.0.1 (a free port unless one is given) and tracks its
 * sockets, so a stop can destroy open connections instead of waiting on them.
 */
export async function listenOnLoopback(
  server: Server,
  sockets: Set<Socket>,
  port = 0,
  name = 'server',
): Promise<number> {
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${name}: no address`);
  return address.port;
}
