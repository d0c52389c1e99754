import {
  asn1Time,
  certDer,
  errorText,
  openssl,
  readCString,
  SSL_CTRL_GET_CHAIN_CERTS,
  SSL_CTRL_MODE,
  SSL_CTRL_SET_MIN_PROTO_VERSION,
  SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
  SSL_FILETYPE_PEM,
  SSL_MODE_RELEASE_BUFFERS,
  SSL_OP_NO_COMPRESSION,
  SSL_OP_NO_RENEGOTIATION,
  subjectLine,
  TLS1_2_VERSION,
  TLS1_3_VERSION,
} from "./_openssl.ts";
import { TlsError } from "./errors.ts";
import { dnsIdMatches } from "./name_check.ts";
import type { ByteStream } from "./stream.ts";
import { handshakeWithin, TlsConnection } from "./tls_conn.ts";
import { certNames } from "./x509_names.ts";

/** Facts about an established TLS session. */
export interface TlsSessionInfo {
  version: string;
  cipher: string;
  bits?: number;
  sni?: string;
}

/** One server certificate: chain file, key file, and the names it is chosen for by SNI. */
export interface CertificateFiles {
  /** PEM file: the certificate, then its intermediates. */
  certificate: string;
  /** PEM private key file. */
  privateKey: string;
  /** SNI names (`*.example.org` allowed); empty: the certificate's own DNS names. */
  names?: string[];
}

// int (*)(SSL *s, int *alert, void *arg)
const SNI_CALLBACK = { parameters: ["pointer", "pointer", "pointer"], result: "i32" } as const;

interface LoadedCert {
  ctx: Deno.PointerValue;
  names: string[];
}

/**
 * Server certificates, reloadable (SIGHUP): one OpenSSL context per certificate, the first one
 * the default, the others chosen by the client's SNI.
 */
export class ServerCredentials {
  #files: CertificateFiles[];
  #minVersion: "TLSv1.2" | "TLSv1.3";
  #certs: LoadedCert[] = [];
  #sniCallback: Deno.UnsafeCallback<typeof SNI_CALLBACK> | null = null;

  /**
   * Remembers the files; call {@linkcode ServerCredentials.load} before use. Takes one chain
   * and key file, or a list of certificates chosen by SNI (the first is the default).
   */
  constructor(
    certificates: string | CertificateFiles[],
    keyFile = "",
    minVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.2",
  ) {
    this.#files = typeof certificates === "string"
      ? [{ certificate: certificates, privateKey: keyFile }]
      : certificates;
    this.#minVersion = minVersion;
  }

  /**
   * (Re)reads every certificate chain and key and checks them: the key matches the
   * certificate, the chain parses, no certificate is expired or not yet valid. On any failure
   * the previous certificates stay in use.
   *
   * @throws {TlsError} naming the file, the certificate and the date
   */
  load(): Promise<void> {
    if (this.#files.length === 0) return Promise.reject(new TlsError("No TLS certificate"));
    const fresh: LoadedCert[] = [];
    try {
      for (const f of this.#files) fresh.push(this.#loadOne(f));
    } catch (e) {
      for (const c of fresh) openssl().ssl.SSL_CTX_free(c.ctx);
      return Promise.reject(e);
    }
    const old = this.#certs;
    this.#certs = fresh;
    // Sessions hold their own reference to their context: freeing ours is safe.
    for (const c of old) openssl().ssl.SSL_CTX_free(c.ctx);
    return Promise.resolve();
  }

  #loadOne(f: CertificateFiles): LoadedCert {
    const { ssl, crypto } = openssl();
    crypto.ERR_clear_error();
    const ctx = ssl.SSL_CTX_new(ssl.TLS_server_method());
    if (!ctx) throw new TlsError(`Cannot create a TLS context: ${errorText(crypto)}`);
    try {
      const min = this.#minVersion === "TLSv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, min, null);
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_RELEASE_BUFFERS, null);
      ssl.SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
      const enc = (s: string) => new TextEncoder().encode(s + "\0");
      if (ssl.SSL_CTX_use_certificate_chain_file(ctx, enc(f.certificate)) !== 1) {
        throw new TlsError(
          `Cannot load the certificate chain ${f.certificate}: ${errorText(crypto) || "no PEM"}`,
        );
      }
      const leaf = ssl.SSL_CTX_get0_certificate(ctx);
      if (ssl.SSL_CTX_use_PrivateKey_file(ctx, enc(f.privateKey), SSL_FILETYPE_PEM) !== 1) {
        const why = errorText(crypto);
        if (/mismatch/.test(why)) throw mismatch(f, subjectLine(crypto, leaf));
        throw new TlsError(
          `Cannot load the private key ${f.privateKey}: ${why || "no PEM key"}`,
        );
      }
      if (ssl.SSL_CTX_check_private_key(ctx) !== 1) {
        errorText(crypto);
        throw mismatch(f, subjectLine(crypto, leaf));
      }
      const chain = [leaf];
      const sk = new BigUint64Array(1);
      ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_GET_CHAIN_CERTS, 0n, Deno.UnsafePointer.of(sk));
      const skp = Deno.UnsafePointer.create(sk[0]);
      const n = skp ? crypto.OPENSSL_sk_num(skp) : 0;
      for (let i = 0; i < n; i++) chain.push(crypto.OPENSSL_sk_value(skp, i));
      for (const x of chain) {
        const notAfter = crypto.X509_get0_notAfter(x);
        const notBefore = crypto.X509_get0_notBefore(x);
        if (crypto.X509_cmp_current_time(notAfter) <= 0) {
          throw new TlsError(
            `The certificate ${subjectLine(crypto, x)} in ${f.certificate} expired on ${
              asn1Time(crypto, notAfter)
            }`,
          );
        }
        if (crypto.X509_cmp_current_time(notBefore) >= 0) {
          throw new TlsError(
            `The certificate ${subjectLine(crypto, x)} in ${f.certificate} is not valid before ${
              asn1Time(crypto, notBefore)
            }`,
          );
        }
      }
      let names = f.names ?? [];
      if (names.length === 0) {
        const own = certNames(certDer(crypto, leaf));
        names = own.dnsNames.length > 0 ? own.dnsNames : own.commonNames;
      }
      ssl.SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, this.#callback().pointer);
      return { ctx, names: names.map((n) => n.toLowerCase()) };
    } catch (e) {
      ssl.SSL_CTX_free(ctx);
      throw e;
    }
  }

  /** The SNI callback: runs inside SSL_do_handshake on this thread; lives as long as we do. */
  #callback(): Deno.UnsafeCallback<typeof SNI_CALLBACK> {
    if (this.#sniCallback) return this.#sniCallback;
    this.#sniCallback = new Deno.UnsafeCallback(
      SNI_CALLBACK,
      (s) => {
        const { ssl } = openssl();
        const name = readCString(ssl.SSL_get_servername(s, 0)).toLowerCase();
        const chosen = name ? this.#choose(name) : null;
        if (chosen) ssl.SSL_set_SSL_CTX(s, chosen.ctx);
        return 0; // SSL_TLSEXT_ERR_OK: an unknown name gets the default certificate
      },
    );
    return this.#sniCallback;
  }

  #choose(name: string): LoadedCert | null {
    return this.#certs.find((c) => c.names.includes(name)) ??
      this.#certs.find((c) => c.names.some((n) => n.startsWith("*.") && dnsIdMatches(n, name))) ??
      null;
  }

  /** Frees the contexts and the SNI callback (when the server closes). */
  close(): void {
    for (const c of this.#certs) openssl().ssl.SSL_CTX_free(c.ctx);
    this.#certs = [];
    this.#sniCallback?.close();
    this.#sniCallback = null;
  }

  /** The default context (the first certificate). */
  get context(): Deno.PointerValue {
    const c = this.#certs[0];
    if (!c) throw new TlsError("TLS credentials were not loaded");
    return c.ctx;
  }
}

function mismatch(f: CertificateFiles, subject: string): TlsError {
  return new TlsError(
    `The private key ${f.privateKey} does not match the certificate ${subject} in ${f.certificate}`,
  );
}

/**
 * Performs the server side of a TLS handshake on an accepted connection (after STARTTLS's
 * 220). Resolves with the encrypted stream and session facts. On failure or timeout the
 * connection is closed.
 *
 * @throws {TlsError} when the handshake fails or times out
 */
export async function upgradeServer(
  conn: Deno.Conn,
  creds: ServerCredentials,
  timeoutMs: number,
): Promise<{ stream: ByteStream; info: TlsSessionInfo }> {
  const { ssl } = openssl();
  const s = ssl.SSL_new(creds.context);
  if (!s) {
    conn.close();
    throw new TlsError("Cannot create a TLS session");
  }
  const tls = new TlsConnection(conn, s, true);
  await handshakeWithin(tls, timeoutMs);
  const cipher = tls.cipher();
  return {
    stream: tls,
    info: { version: tls.version(), cipher: cipher.name, bits: cipher.bits, sni: tls.servername() },
  };
}
