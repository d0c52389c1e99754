import { connect, type TLSSocket } from "node:tls";
import { isIP } from "../net/mod.ts";
import { type ByteStream, duplexOver, tlsSocketStream } from "../tls/mod.ts";

/** Options for the client side of STARTTLS. */
export interface ClientTlsOptions {
  /** SNI and, when verifying, the name to check. */
  servername?: string;
  /** Check the certificate chain and name (default false: opportunistic TLS, RFC 7435). */
  verify?: boolean;
  /** Extra trust anchors in PEM. */
  ca?: string[];
  /** Handshake deadline in milliseconds. */
  timeout: number;
}

/** The encrypted stream and what was negotiated. */
export interface ClientTlsSession {
  stream: ByteStream;
  /** For example `TLSv1.3`. */
  version: string;
  /** Cipher suite name. */
  cipher: string;
  /** The node:tls socket, for the peer certificate chain (DANE, name checks). */
  socket: TLSSocket;
}

/**
 * Runs the client side of a TLS handshake on a connection after the peer's 220 to
 * STARTTLS (RFC 3207 4).
 *
 * @throws {Error} when the handshake fails or times out (the connection is then closed)
 */
export function upgradeClient(conn: Deno.Conn, opts: ClientTlsOptions): Promise<ClientTlsSession> {
  const socket = connect({
    socket: duplexOver(conn),
    // RFC 6066 3: SNI carries host names only, never IP addresses.
    servername: opts.servername && !isIP(opts.servername) ? opts.servername : undefined,
    rejectUnauthorized: opts.verify ?? false,
    ca: opts.ca,
    minVersion: "TLSv1.2",
  });
  return new Promise((resolve, reject) => {
    const fail = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      try {
        conn.close();
      } catch { /* closed */ }
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error("TLS handshake timed out")), opts.timeout);
    socket.once("error", (e) => fail(new Error(`TLS handshake failed: ${e.message}`)));
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      const cipher = socket.getCipher();
      resolve({
        stream: tlsSocketStream(socket, conn, { graceful: false }),
        version: socket.getProtocol() ?? "TLS",
        cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
        socket,
      });
    });
  });
}
