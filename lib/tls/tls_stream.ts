import type { TLSSocket } from "node:tls";
import type { ByteStream } from "./stream.ts";
import { TlsError } from "./errors.ts";

/**
 * Presents a node:tls socket as a {@linkcode ByteStream}: incoming data is queued and reads are
 * served from the queue. `graceful` closes with close_notify after buffered output (server
 * side, so a last reply reaches the client); otherwise the socket is destroyed at once.
 */
export function tlsSocketStream(
  socket: TLSSocket,
  conn: Deno.Conn,
  opts: { graceful: boolean },
): ByteStream {
  const queue: Uint8Array[] = [];
  let ended = false;
  let waiter: (() => void) | null = null;
  const wake = () => {
    const w = waiter;
    waiter = null;
    w?.();
  };
  const end = () => {
    ended = true;
    wake();
  };
  socket.on("data", (chunk: Uint8Array) => {
    queue.push(chunk);
    wake();
  });
  socket.on("end", end);
  socket.on("close", end);
  socket.on("error", end);
  let closed = false;
  let done: Promise<void> | undefined;
  return {
    async read(p) {
      while (queue.length === 0) {
        if (ended || closed) return null;
        await new Promise<void>((r) => (waiter = r));
      }
      const head = queue[0];
      const n = Math.min(head.length, p.length);
      p.set(head.subarray(0, n));
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
      return n;
    },
    write(p) {
      return new Promise((resolve, reject) => {
        if (ended || closed) return reject(new TlsError("TLS connection closed"));
        socket.write(p, (e) => e ? reject(e) : resolve());
      });
    },
    close() {
      if (closed) return done;
      closed = true;
      wake();
      const destroy = () => {
        socket.destroy();
        try {
          conn.close();
        } catch { /* closed */ }
      };
      if (!opts.graceful) return destroy();
      socket.end(); // close_notify after what is still buffered (a 221 or 421)
      // The TCP connection is closed 100 ms later; callers can wait for it (server close).
      done = new Promise((r) => setTimeout(() => r(destroy()), 100));
      return done;
    },
  };
}
