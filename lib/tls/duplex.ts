import { Duplex } from "node:stream";

/**
 * Adapts a Deno connection to the Duplex stream that node:tls wants underneath it, so a
 * plain connection can be upgraded mid-protocol (STARTTLS) on either side.
 */
export function duplexOver(conn: Deno.Conn): Duplex {
  return new Duplex({
    read() {
      const buf = new Uint8Array(16 * 1024);
      conn.read(buf).then(
        (n) => this.push(n === null ? null : buf.subarray(0, n)),
        () => this.push(null),
      );
    },
    write(chunk: Uint8Array, _enc, cb) {
      (async () => {
        let off = 0;
        while (off < chunk.length) off += await conn.write(chunk.subarray(off));
      })().then(() => cb(), (e) => cb(e));
    },
    final(cb) {
      try {
        conn.closeWrite();
      } catch { /* peer gone */ }
      cb();
    },
  });
}
