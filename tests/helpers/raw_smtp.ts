/**
 * A scripted SMTP client over a raw socket, for what no real client can be made to do:
 * talk before the greeting, inject after STARTTLS, send smuggling sequences, drop mid-DATA.
 */
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw connection with helpers to send bytes and read replies. */
export class RawClient {
  conn: Deno.Conn;
  #buf = "";

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Connects to 127.0.0.1:port. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname, port }));
  }

  /** Sends text (or bytes) as is. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /**
   * Reads until `count` complete replies (last lines `NNN ` ) arrived, or the connection
   * closed, or `ms` passed. Returns the replies' final lines.
   */
  async replies(count = 1, ms = 5000): Promise<string[]> {
    const until = Date.now() + ms;
    const buf = new Uint8Array(65536);
    for (;;) {
      const finals = this.#buf.split("\r\n").filter((l) => /^\d{3} /.test(l));
      if (finals.length >= count) {
        // Keep what follows the count-th final line for later reads.
        let idx = 0;
        for (let i = 0; i < count; i++) {
          const m = /^\d{3} .*\r\n/m.exec(this.#buf.slice(idx));
          idx += m!.index + m![0].length;
        }
        this.#buf = this.#buf.slice(idx);
        return finals.slice(0, count);
      }
      const left = until - Date.now();
      if (left <= 0) return finals;
      const n = await Promise.race([
        this.conn.read(buf).catch(() => null),
        new Promise<"t">((r) => setTimeout(() => r("t"), left)),
      ]);
      if (n === "t" || n === null) return finals;
      this.#buf += dec.decode(buf.subarray(0, n));
    }
  }

  /** Tells whether the server closed the connection (reads EOF within `ms`). */
  async closedByPeer(ms = 3000): Promise<boolean> {
    const buf = new Uint8Array(4096);
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const n = await Promise.race([
        this.conn.read(buf).catch(() => null),
        new Promise<"t">((r) => setTimeout(() => r("t"), until - Date.now())),
      ]);
      if (n === null) return true;
      if (n === "t") return false;
    }
    return false;
  }

  /** Closes the socket. */
  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}
