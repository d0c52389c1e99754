import {
  BIO_C_SET_BUF_MEM_EOF_RETURN,
  certDer,
  errorText,
  openssl,
  readCString,
  SSL_ERROR_WANT_READ,
  SSL_ERROR_ZERO_RETURN,
} from "./_openssl.ts";
import { TlsError } from "./errors.ts";
import type { ByteStream } from "./stream.ts";

const CHUNK = 16 * 1024 + 512; // one TLS record and its overhead

/**
 * One TLS session over a Deno connection: an `SSL*` with two memory BIOs, bytes moved between
 * them and the socket by this code. Reads pull from the socket only when the reader asks
 * (backpressure: a peer that floods us is read no faster than we consume), and writes resolve
 * once the socket took the bytes (a peer that does not read stalls only its own session).
 */
export class TlsConnection implements ByteStream {
  #conn: Deno.Conn;
  #ssl: Deno.PointerValue;
  #rbio: Deno.PointerValue; // network -> OpenSSL
  #wbio: Deno.PointerValue; // OpenSSL -> network
  #writing: Promise<void> = Promise.resolve();
  #writeError: Error | null = null;
  #netBuf = new Uint8Array(CHUNK);
  #eof = false;
  #closed = false;
  #freed = false;
  #closing: Promise<void> = Promise.resolve();

  /** Takes ownership of `ssl` (freed on close) and of the connection. */
  constructor(conn: Deno.Conn, ssl: Deno.PointerValue, server: boolean) {
    const { ssl: s, crypto } = openssl();
    this.#conn = conn;
    this.#ssl = ssl;
    this.#rbio = crypto.BIO_new(crypto.BIO_s_mem());
    this.#wbio = crypto.BIO_new(crypto.BIO_s_mem());
    // An empty read BIO means "want more" until the socket's EOF says otherwise.
    crypto.BIO_ctrl(this.#rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1n, null);
    s.SSL_set_bio(ssl, this.#rbio, this.#wbio); // the SSL owns both BIOs now
    if (server) s.SSL_set_accept_state(ssl);
    else s.SSL_set_connect_state(ssl);
  }

  /** The `SSL*`, for the facts readers in this folder. */
  get ssl(): Deno.PointerValue {
    return this.#ssl;
  }

  /**
   * Runs the handshake to its end.
   *
   * @throws {TlsError} with OpenSSL's reason when it fails, or when the peer goes away
   */
  async handshake(): Promise<void> {
    const { ssl, crypto } = openssl();
    for (;;) {
      if (this.#closed) throw new TlsError("TLS connection closed during the handshake");
      crypto.ERR_clear_error();
      const rc = ssl.SSL_do_handshake(this.#ssl);
      const err = rc === 1 ? 0 : ssl.SSL_get_error(this.#ssl, rc);
      const why = rc === 1 ? "" : errorText(crypto);
      await this.#flush(); // alerts too: the peer learns why
      if (rc === 1) return;
      if (err === SSL_ERROR_WANT_READ) {
        if (!(await this.#fill())) {
          throw new TlsError("Peer closed the connection in the handshake");
        }
        continue;
      }
      throw new TlsError(why || `TLS handshake failed (SSL error ${err})`);
    }
  }

  /** Moves what OpenSSL wrote into the socket, in order. */
  #flush(): Promise<void> {
    if (this.#freed) return this.#writing;
    const { crypto } = openssl();
    const pending = Number(crypto.BIO_ctrl_pending(this.#wbio));
    if (pending === 0) return this.#writing;
    const out = new Uint8Array(pending);
    const n = crypto.BIO_read(this.#wbio, out, pending);
    if (n <= 0) return this.#writing;
    const data = out.subarray(0, n);
    this.#writing = this.#writing.then(async () => {
      if (this.#writeError) throw this.#writeError;
      try {
        let off = 0;
        while (off < data.length) off += await this.#conn.write(data.subarray(off));
      } catch (e) {
        this.#writeError = e as Error;
        throw e;
      }
    });
    // A failed write surfaces on the next awaited write; never as an unhandled rejection.
    this.#writing.catch(() => {});
    return this.#writing;
  }

  /** Reads once from the socket into OpenSSL; false at end of stream. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#netBuf);
    } catch {
      n = null;
    }
    if (this.#freed) return false;
    const { crypto } = openssl();
    if (n === null) {
      this.#eof = true;
      crypto.BIO_ctrl(this.#rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, 0n, null);
      return false;
    }
    crypto.BIO_write(this.#rbio, this.#netBuf, n);
    return true;
  }

  /** Reads decrypted bytes into `p`; null at close_notify, EOF or error. */
  async read(p: Uint8Array): Promise<number | null> {
    const { ssl, crypto } = openssl();
    for (;;) {
      if (this.#closed || this.#freed) return null;
      crypto.ERR_clear_error();
      const n = ssl.SSL_read(this.#ssl, p, Math.min(p.length, 0x7fffffff));
      if (n > 0) return n;
      const err = ssl.SSL_get_error(this.#ssl, n);
      // TLS 1.3 tickets and key updates may want to write while reading.
      try {
        await this.#flush();
      } catch {
        return null;
      }
      if (err === SSL_ERROR_WANT_READ) {
        if (!(await this.#fill())) return null;
        continue;
      }
      if (err === SSL_ERROR_ZERO_RETURN) return null; // close_notify
      errorText(crypto);
      return null;
    }
  }

  /** Encrypts and sends all of `p`; resolves when the socket took it. */
  async write(p: Uint8Array): Promise<void> {
    if (this.#closed || this.#freed) throw new TlsError("TLS connection closed");
    const { ssl, crypto } = openssl();
    if (p.length > 0) {
      crypto.ERR_clear_error();
      // Memory BIOs never refuse: SSL_write takes everything at once.
      const n = ssl.SSL_write(this.#ssl, p, p.length);
      if (n <= 0) {
        throw new TlsError(`TLS write failed: ${errorText(crypto) || "connection closed"}`);
      }
    }
    await this.#flush();
  }

  /**
   * Closes: sends close_notify after whatever is still queued (a last 221 or 421 reaches the
   * peer), waits briefly for the socket to take it, then closes the socket and frees the `SSL`.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#closing;
    this.#closed = true;
    if (this.#freed) return this.#closing;
    const { ssl, crypto } = openssl();
    crypto.ERR_clear_error();
    ssl.SSL_shutdown(this.#ssl);
    errorText(crypto);
    const done = this.#flush().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => timer = setTimeout(r, 1000));
    // Resolves once the socket is closed and the SSL freed (ByteStream's contract).
    this.#closing = Promise.race([done, late]).then(() => {
      clearTimeout(timer);
      this.#destroy();
    });
    return this.#closing;
  }

  #destroy(): void {
    if (this.#freed) return;
    this.#freed = true;
    try {
      this.#conn.close();
    } catch { /* closed already */ }
    openssl().ssl.SSL_free(this.#ssl); // frees both BIOs
  }

  /** Protocol version (`TLSv1.3`). */
  version(): string {
    return readCString(openssl().ssl.SSL_get_version(this.#ssl));
  }

  /** Cipher suite name and its secret bits. */
  cipher(): { name: string; bits?: number } {
    const { ssl } = openssl();
    const c = ssl.SSL_get_current_cipher(this.#ssl);
    if (!c) return { name: "unknown" };
    const bits = ssl.SSL_CIPHER_get_bits(c, null);
    return { name: readCString(ssl.SSL_CIPHER_get_name(c)), bits: bits > 0 ? bits : undefined };
  }

  /** The certificates the peer sent, DER, leaf first. */
  peerChain(): Uint8Array[] {
    const { ssl, crypto } = openssl();
    const out: Uint8Array[] = [];
    const leaf = ssl.SSL_get0_peer_certificate(this.#ssl);
    if (!leaf) return out;
    out.push(certDer(crypto, leaf));
    const sk = ssl.SSL_get_peer_cert_chain(this.#ssl);
    const n = sk ? crypto.OPENSSL_sk_num(sk) : 0;
    for (let i = 0; i < n; i++) {
      const x = crypto.OPENSSL_sk_value(sk, i);
      // The client side's stack starts with the leaf (TLS.md pitfall 7).
      if (Deno.UnsafePointer.equals(x, leaf)) continue;
      out.push(certDer(crypto, x));
    }
    return out;
  }

  /** OpenSSL's verification result (0 = ok) and its text. */
  verifyResult(): { code: number; text: string } {
    const { ssl, crypto } = openssl();
    const code = ssl.SSL_get_verify_result(this.#ssl);
    return { code: Number(code), text: readCString(crypto.X509_verify_cert_error_string(code)) };
  }

  /** The server name the client asked for (SNI), if any. */
  servername(): string | undefined {
    return readCString(openssl().ssl.SSL_get_servername(this.#ssl, 0)) || undefined;
  }
}

/**
 * Runs the handshake, closing the connection when it fails or takes longer than `ms`
 * (a peer that never answers must not hold the session).
 *
 * @throws {TlsError} "TLS handshake timed out", or the handshake's own error
 */
export async function handshakeWithin(tls: TlsConnection, ms: number): Promise<void> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    tls.close();
  }, ms);
  try {
    await tls.handshake();
  } catch (e) {
    tls.close();
    throw timedOut ? new TlsError("TLS handshake timed out") : e;
  } finally {
    clearTimeout(timer);
  }
}
