import { createRequire } from 'node:module';

/**
 * Engine.io writes each packet to a WebSocket as its own frame, and ws sends
 * each frame with its own system call. When packets have queued up for a
 * client (several events in one dispatch, or while the last write was in
 * flight), engine.io hands them over in one `send(packets)`: corking the TCP
 * socket around it turns N system calls into one. One event costs the same
 * as before, so latency at low load is unchanged.
 */
export const coalesceWebSocketWrites = () => {
  // The engine.io that socket.io itself uses, whatever the install layout.
  const fromSocketIo = createRequire(createRequire(import.meta.url).resolve('socket.io'));
  const engine = fromSocketIo('engine.io') as {
    transports: { websocket: { prototype: { send(packets: unknown[]): void } } };
  };
  const { prototype } = engine.transports.websocket;
  const send = prototype.send;
  if ((send as { coalesced?: boolean }).coalesced) return;
  const coalesced = function (
    this: { socket?: { _socket?: import('node:net').Socket } },
    packets: unknown[],
  ) {
    const tcp = packets.length > 1 ? this.socket?._socket : undefined;
    if (!tcp) return send.call(this, packets);
    tcp.cork();
    try {
      send.call(this, packets);
    } finally {
      tcp.uncork();
    }
  };
  prototype.send = Object.assign(coalesced, { coalesced: true });
};
