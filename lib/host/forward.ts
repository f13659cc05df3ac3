// A local TCP listener on 127.0.0.1 whose every connection is piped to a stream opened on demand
// (an SSH direct-tcpip channel, or a plain socket). Used by Host.forward().

import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Forward } from './types.ts';

export async function listenForward(open: (client: net.Socket) => Promise<Duplex>): Promise<Forward> {
  const sockets = new Set<net.Socket>();
  // noDelay: a request-answer protocol through it (MySQL, AMQP) would wait ~40 ms per exchange for a
  // delayed ACK under Nagle's algorithm.
  const server = net.createServer({ noDelay: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    open(client).then(
      (remote) => {
        remote.on('error', () => client.destroy());
        client.on('error', () => remote.destroy());
        remote.on('close', () => client.destroy());
        client.on('close', () => remote.destroy());
        client.pipe(remote).pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
