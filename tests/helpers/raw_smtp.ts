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
  #rbuf = new Uint8Array(65536);
  /** A read that outlived a wait: the next wait takes it over, so no bytes are lost. */
  #pending: Promise<Uint8Array | null> | null = null;

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
      const data = await this.#read(left);
      if (data === "timeout" || data === null) return finals;
      this.#buf += dec.decode(data);
    }
  }

  /** Reads once, waiting at most `ms`; null at EOF (or a reset). */
  async #read(ms: number): Promise<Uint8Array | null | "timeout"> {
    this.#pending ??= this.conn.read(this.#rbuf).then(
      (n) => (n === null ? null : this.#rbuf.slice(0, n)),
      () => null,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const r = await Promise.race([
        this.#pending,
        new Promise<"timeout">((res) => (timer = setTimeout(() => res("timeout"), ms))),
      ]);
      if (r !== "timeout") this.#pending = null;
      return r;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells whether the server closed the connection (reads EOF within `ms`). */
  async closedByPeer(ms = 3000): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const r = await this.#read(until - Date.now());
      if (r === null) return true;
      if (r === "timeout") return false;
    }
    return false;
  }

  /** Closes the socket (a read still pending then ends). */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#pending;
    this.#pending = null;
  }
}
