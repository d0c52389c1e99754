/** A byte stream the SMTP session reads and writes: a TCP connection or a TLS session. */
export interface ByteStream {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes all of `p`. */
  write(p: Uint8Array): Promise<void>;
  /**
   * Closes the stream (idempotent). A stream that closes in the background (TLS sends
   * close_notify first) returns a promise that resolves once its connection is closed.
   */
  close(): void | Promise<void>;
}

/** Wraps a Deno connection as a {@linkcode ByteStream} that writes fully. */
export function connStream(conn: Deno.Conn): ByteStream {
  let closed = false;
  return {
    read: (p) => conn.read(p),
    async write(p) {
      let off = 0;
      while (off < p.length) off += await conn.write(p.subarray(off));
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch { /* already closed by the peer */ }
    },
  };
}
