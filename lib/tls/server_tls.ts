import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { ByteStream } from "./stream.ts";
import { duplexOver } from "./duplex.ts";
import { TlsError } from "./errors.ts";
import { tlsSocketStream } from "./tls_stream.ts";

/** Facts about an established TLS session. */
export interface TlsSessionInfo {
  version: string;
  cipher: string;
  bits?: number;
  sni?: string;
}

/** Certificate files for the server side, reloadable (SIGHUP). */
export class ServerCredentials {
  #certFile: string;
  #keyFile: string;
  #minVersion: "TLSv1.2" | "TLSv1.3";
  #context: SecureContext | null = null;

  /** Remembers the files; call {@linkcode ServerCredentials.load} before use. */
  constructor(certFile: string, keyFile: string, minVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.2") {
    this.#certFile = certFile;
    this.#keyFile = keyFile;
    this.#minVersion = minVersion;
  }

  /**
   * (Re)reads the certificate chain and key. On failure the previous context stays in use.
   *
   * @throws {TlsError} naming the file when it cannot be read or does not match
   */
  async load(): Promise<void> {
    let cert: string, key: string;
    try {
      cert = await Deno.readTextFile(this.#certFile);
      key = await Deno.readTextFile(this.#keyFile);
    } catch (e) {
      throw new TlsError(`Cannot read TLS files: ${(e as Error).message}`, { cause: e });
    }
    try {
      this.#context = createSecureContext({ cert, key, minVersion: this.#minVersion });
    } catch (e) {
      throw new TlsError(
        `Cannot use ${this.#certFile} with ${this.#keyFile}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** The current secure context. */
  get context(): SecureContext {
    if (!this.#context) throw new TlsError("TLS credentials were not loaded");
    return this.#context;
  }
}

/**
 * Performs the server side of a TLS handshake on an accepted connection (after STARTTLS's
 * 220). Resolves with the encrypted stream and session facts.
 *
 * @throws {TlsError} when the handshake fails or times out
 */
export function upgradeServer(
  conn: Deno.Conn,
  creds: ServerCredentials,
  timeoutMs: number,
): Promise<{ stream: ByteStream; info: TlsSessionInfo }> {
  const socket = new TLSSocket(duplexOver(conn), {
    isServer: true,
    secureContext: creds.context,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      try {
        conn.close();
      } catch { /* closed */ }
      reject(new TlsError("TLS handshake timed out"));
    }, timeoutMs);
    socket.once("error", (e) => {
      clearTimeout(timer);
      socket.destroy();
      try {
        conn.close();
      } catch { /* closed */ }
      reject(new TlsError(`TLS handshake failed: ${e.message}`, { cause: e }));
    });
    socket.once("secure", () => {
      clearTimeout(timer);
      const cipher = socket.getCipher();
      const servername = (socket as unknown as { servername?: string | false }).servername;
      resolve({
        stream: tlsSocketStream(socket, conn, { graceful: true }),
        info: {
          version: socket.getProtocol() ?? "TLS",
          cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
          bits: bitsOf(cipher?.name ?? ""),
          sni: servername || undefined,
        },
      });
    });
  });
}

function bitsOf(cipher: string): number | undefined {
  const m = /(128|256)/.exec(cipher);
  if (m) return Number(m[1]);
  return /CHACHA20/.test(cipher) ? 256 : undefined;
}
