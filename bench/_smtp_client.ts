/**
 * A minimal SMTP client for latency figures: one connection, sequential transactions, MAIL,
 * RCPT and DATA pipelined (RFC 2920), each transaction timed from MAIL to the final reply.
 */

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Raised when the server's reply is not what a plain transaction expects. */
export class BenchSmtpError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BenchSmtpError";
  }
}

class ReplyReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(64 * 1024);
  #text = "";

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads one (possibly multi-line) reply and returns its code and last line. */
  async reply(): Promise<{ code: number; text: string }> {
    for (;;) {
      // RFC 5321 4.2.1: the last line of a reply has a space after the code.
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.#text);
      if (m) {
        const end = m.index + m[0].length;
        this.#text = this.#text.slice(end);
        return { code: Number(m[1]), text: m[0].trimEnd() };
      }
      const n = await this.#conn.read(this.#buf);
      if (n === null) throw new BenchSmtpError("Cannot read reply: connection closed");
      this.#text += dec.decode(this.#buf.subarray(0, n));
    }
  }
}

/** A body of about `size` bytes: headers, then 78-character lines (none starts with a dot). */
export function makeBody(size: number, n: number): Uint8Array {
  const head = `From: <source@example.org>\r\nTo: <sink@example.com>\r\n` +
    `Subject: bench ${n}\r\nMessage-ID: <bench.${n}.${Date.now()}@example.org>\r\n\r\n`;
  const lines: string[] = [head];
  let used = head.length;
  for (let i = 0; used < size; i++) {
    const line = `${i} `.padEnd(78, "x") + "\r\n";
    lines.push(line);
    used += line.length;
  }
  lines.push(".\r\n");
  return enc.encode(lines.join(""));
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

async function expect(r: ReplyReader, code: number, what: string): Promise<void> {
  const got = await r.reply();
  if (got.code !== code) throw new BenchSmtpError(`Cannot send ${what}: ${got.text}`);
}

/**
 * Sends `count` messages of about `size` bytes one after another over one connection and
 * returns each transaction's latency in milliseconds.
 */
export async function sequentialLatencies(
  port: number,
  opts: { count: number; size: number; host?: string },
): Promise<number[]> {
  const conn = await Deno.connect({ hostname: opts.host ?? "127.0.0.1", port });
  conn.setNoDelay(true);
  const r = new ReplyReader(conn);
  const out: number[] = [];
  try {
    await expect(r, 220, "greeting");
    await writeAll(conn, enc.encode("EHLO latency.example.org\r\n"));
    await expect(r, 250, "EHLO");
    const envelope = enc.encode(
      "MAIL FROM:<source@example.org>\r\nRCPT TO:<sink@example.com>\r\nDATA\r\n",
    );
    for (let i = 0; i < opts.count; i++) {
      const body = makeBody(opts.size, i);
      const t0 = performance.now();
      await writeAll(conn, envelope);
      await expect(r, 250, "MAIL");
      await expect(r, 250, "RCPT");
      await expect(r, 354, "DATA");
      await writeAll(conn, body);
      await expect(r, 250, "message");
      out.push(performance.now() - t0);
    }
    await writeAll(conn, enc.encode("QUIT\r\n"));
    await r.reply().catch(() => {});
  } finally {
    conn.close();
  }
  return out;
}
