/**
 * A STARTTLS load client for benchmarks, on the project's own TLS client (lib/tls
 * `upgradeClient`, OpenSSL 3 through FFI) over `Deno.connect`. One session: EHLO, STARTTLS,
 * EHLO, then MAIL, RCPT and DATA pipelined (RFC 2920), the body, QUIT.
 */
import { type ByteStream, connStream, upgradeClient } from "../lib/tls/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Raised when a session does not go as a plain STARTTLS transaction expects. */
export class BenchTlsError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BenchTlsError";
  }
}

class Replies {
  #s: ByteStream;
  #buf = new Uint8Array(16 * 1024);
  #text = "";

  constructor(s: ByteStream) {
    this.#s = s;
  }

  /** Bytes read but not yet taken as replies (must be none before the TLS handshake). */
  get pending(): number {
    return this.#text.length;
  }

  /** Reads one (possibly multi-line) reply; throws unless its code is `want`. */
  async expect(want: number, what: string): Promise<void> {
    for (;;) {
      // RFC 5321 4.2.1: the last line of a reply has a space after the code.
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.#text);
      if (m) {
        this.#text = this.#text.slice(m.index + m[0].length);
        if (Number(m[1]) !== want) {
          throw new BenchTlsError(`${what}: expected ${want}, got ${m[0].trimEnd()}`);
        }
        return;
      }
      const n = await this.#s.read(this.#buf);
      if (n === null) throw new BenchTlsError(`${what}: connection closed`);
      this.#text += dec.decode(this.#buf.subarray(0, n));
    }
  }
}

/** What {@linkcode tlsSession} needs. */
export interface TlsSessionOptions {
  port: number;
  /** The PEM trust anchors the server's chain must verify against. */
  caFile: string;
  /** The name the server's certificate must carry (also sent as SNI). */
  serverName: string;
  /** The DATA payload, dot-terminated (see `makeBody` in bench/_smtp_client.ts). */
  body: Uint8Array;
}

/**
 * Runs one STARTTLS session with one message against 127.0.0.1:port.
 *
 * @throws {BenchTlsError} on any unexpected reply, or when the certificate does not verify
 */
export async function tlsSession(o: TlsSessionOptions): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: o.port });
  let s: ByteStream = connStream(conn);
  try {
    let r = new Replies(s);
    await r.expect(220, "greeting");
    await s.write(enc.encode("EHLO client.bench.test\r\n"));
    await r.expect(250, "EHLO");
    await s.write(enc.encode("STARTTLS\r\n"));
    await r.expect(220, "STARTTLS");
    if (r.pending) throw new BenchTlsError("bytes after the 220 to STARTTLS");
    const tls = await upgradeClient(conn, {
      servername: o.serverName,
      caFile: o.caFile,
      referenceNames: [o.serverName],
      timeout: 10_000,
    });
    s = tls.stream;
    if (tls.verify.code !== 0 || !tls.matchedName) {
      throw new BenchTlsError(`certificate not verified: ${tls.verify.text}`);
    }
    r = new Replies(s);
    await s.write(enc.encode("EHLO client.bench.test\r\n"));
    await r.expect(250, "EHLO after STARTTLS");
    await s.write(
      enc.encode("MAIL FROM:<source@example.org>\r\nRCPT TO:<sink@example.com>\r\nDATA\r\n"),
    );
    await r.expect(250, "MAIL");
    await r.expect(250, "RCPT");
    await r.expect(354, "DATA");
    await s.write(o.body);
    await r.expect(250, "end of data");
    await s.write(enc.encode("QUIT\r\n"));
    await r.expect(221, "QUIT");
  } finally {
    s.close();
  }
}

/**
 * Runs `count` sessions, `concurrency` at a time; resolves to the wall time in milliseconds.
 * The first failure stops the run and is thrown.
 */
export async function tlsLoad(
  o: TlsSessionOptions & { count: number; concurrency: number },
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < o.count) {
      next++;
      await tlsSession(o);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, worker));
  return performance.now() - t0;
}
