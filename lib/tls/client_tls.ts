import {
  cstr,
  DANE_FLAG_NO_DANE_EE_NAMECHECKS,
  errorText,
  openssl,
  SSL_CTRL_MODE,
  SSL_CTRL_SET_MIN_PROTO_VERSION,
  SSL_CTRL_SET_TLSEXT_HOSTNAME,
  SSL_MODE_RELEASE_BUFFERS,
  SSL_OP_NO_COMPRESSION,
  SSL_OP_NO_RENEGOTIATION,
  TLS1_2_VERSION,
  X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
  X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
} from "./_openssl.ts";
import { TlsError } from "./errors.ts";
import { certMatchesNames } from "./name_check.ts";
import type { ByteStream } from "./stream.ts";
import { handshakeWithin, TlsConnection } from "./tls_conn.ts";
import { certNames } from "./x509_names.ts";

/** The system CA bundle on Debian and Ubuntu. */
export const SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt";

/** One TLSA record (RFC 6698 2.1). */
export interface TlsaRecord {
  /** 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE. */
  usage: number;
  /** 0 full certificate, 1 SubjectPublicKeyInfo. */
  selector: number;
  /** 0 exact, 1 SHA2-256, 2 SHA2-512. */
  matchingType: number;
  /** The association data. */
  data: Uint8Array;
}

/** Options for the client side of STARTTLS. */
export interface ClientTlsOptions {
  /** SNI (omitted for IP addresses, RFC 6066 3). */
  servername?: string;
  /** Trust anchors for the PKIX chain check (default the system bundle). */
  caFile?: string;
  /** Names the certificate must carry to count as matched (RFC 6125; first is preferred). */
  referenceNames?: string[];
  /**
   * DANE (RFC 7672): the usable TLSA records (usages 2 and 3) and the TLSA base domain. The
   * chain check is then OpenSSL's DANE check instead of PKIX.
   */
  dane?: { records: TlsaRecord[]; baseDomain: string };
  /** Handshake deadline in milliseconds. */
  timeout: number;
}

/** The TLSA record that authenticated the peer, and at which chain depth. */
export interface DaneMatch {
  usage: number;
  selector: number;
  matchingType: number;
  depth: number;
}

/** The encrypted stream and what was negotiated and checked. */
export interface ClientTlsSession {
  stream: ByteStream;
  /** For example `TLSv1.3`. */
  version: string;
  /** Cipher suite name. */
  cipher: string;
  /** Secret bits of the cipher. */
  bits?: number;
  /** The certificates the server sent, DER, leaf first. */
  peerChain: Uint8Array[];
  /** OpenSSL's chain check (PKIX, or DANE with `dane`): code 0 is success. */
  verify: { code: number; text: string };
  /** The reference name the leaf certificate matched (RFC 6125), or null. */
  matchedName: string | null;
  /** With `dane`: the record that matched, or null. */
  dane: DaneMatch | null;
}

const contexts = new Map<string, Deno.PointerValue>();

/** One client context per CA file, built once (loading a CA bundle costs milliseconds). */
function clientContext(caFile: string): Deno.PointerValue {
  const cached = contexts.get(caFile);
  if (cached) return cached;
  const { ssl, crypto } = openssl();
  crypto.ERR_clear_error();
  const ctx = ssl.SSL_CTX_new(ssl.TLS_client_method());
  if (!ctx) throw new TlsError(`Cannot create a TLS context: ${errorText(crypto)}`);
  ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, null);
  ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, SSL_MODE_RELEASE_BUFFERS, null);
  ssl.SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Verification runs but never aborts the handshake: the caller's security level decides.
  ssl.SSL_CTX_set_verify(ctx, 0, null);
  if (ssl.SSL_CTX_load_verify_locations(ctx, cstr(caFile), null) !== 1) {
    const why = errorText(crypto);
    ssl.SSL_CTX_free(ctx);
    throw new TlsError(`Cannot load the CA file ${caFile}: ${why || "no certificates"}`);
  }
  if (ssl.SSL_CTX_dane_enable(ctx) <= 0) {
    const why = errorText(crypto);
    ssl.SSL_CTX_free(ctx);
    throw new TlsError(`Cannot enable DANE: ${why}`);
  }
  contexts.set(caFile, ctx);
  return ctx;
}

/**
 * Checks that a CA file loads (for start-up and `check-config`).
 *
 * @throws {TlsError} naming the file
 */
export function checkCaFile(caFile: string): void {
  clientContext(caFile);
}

/**
 * Runs the client side of a TLS handshake on a connection after the peer's 220 to STARTTLS
 * (RFC 3207 4), and reports what was checked; it never rejects a certificate itself.
 *
 * @throws {TlsError} when the handshake fails or times out (the connection is then closed)
 */
export async function upgradeClient(
  conn: Deno.Conn,
  opts: ClientTlsOptions,
): Promise<ClientTlsSession> {
  const { ssl, crypto } = openssl();
  let ctx: Deno.PointerValue;
  try {
    ctx = clientContext(opts.caFile ?? SYSTEM_CA_FILE);
  } catch (e) {
    conn.close();
    throw e;
  }
  const s = ssl.SSL_new(ctx);
  if (!s) {
    conn.close();
    throw new TlsError("Cannot create a TLS session");
  }
  const tls = new TlsConnection(conn, s, false);
  ssl.SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const sni = opts.servername && !/^[0-9.]+$|:/.test(opts.servername) ? opts.servername : undefined;
  if (opts.dane) {
    // SSL_dane_enable sets SNI to the base domain and makes it a reference name for DANE-TA.
    if (ssl.SSL_dane_enable(s, cstr(opts.dane.baseDomain)) <= 0) {
      tls.close();
      throw new TlsError(`Cannot enable DANE: ${errorText(crypto)}`);
    }
    // RFC 7672 3.2.1: DANE-EE(3) certificates are not subject to name checks.
    ssl.SSL_dane_set_flags(s, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    ssl.SSL_set_hostflags(
      s,
      X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
    );
    for (const name of opts.referenceNames ?? []) {
      if (name.toLowerCase() !== opts.dane.baseDomain.toLowerCase()) {
        ssl.SSL_add1_host(s, cstr(name));
      }
    }
    let usable = 0;
    for (const r of opts.dane.records) {
      const data = new Uint8Array(r.data);
      const rc = ssl.SSL_dane_tlsa_add(
        s,
        r.usage,
        r.selector,
        r.matchingType,
        data,
        BigInt(data.length),
      );
      if (rc > 0) usable++;
    }
    errorText(crypto);
    if (usable === 0) {
      tls.close();
      throw new TlsError("None of the TLSA records is usable");
    }
  } else if (sni) {
    ssl.SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, 0n, Deno.UnsafePointer.of(cstr(sni)));
  }
  await handshakeWithin(tls, opts.timeout);
  const chain = tls.peerChain();
  let matchedName: string | null = null;
  if (chain.length > 0) {
    try {
      matchedName = certMatchesNames(certNames(chain[0]), opts.referenceNames ?? []);
    } catch { /* an unparsable leaf matches nothing */ }
  }
  const cipher = tls.cipher();
  return {
    stream: tls,
    version: tls.version(),
    cipher: cipher.name,
    bits: cipher.bits,
    peerChain: chain,
    verify: tls.verifyResult(),
    matchedName,
    dane: opts.dane ? daneMatch(s) : null,
  };
}

function daneMatch(s: Deno.PointerValue): DaneMatch | null {
  const { ssl } = openssl();
  const usage = new Uint8Array(1), selector = new Uint8Array(1), mtype = new Uint8Array(1);
  const data = new BigUint64Array(1), len = new BigUint64Array(1);
  const depth = ssl.SSL_get0_dane_tlsa(
    s,
    usage,
    selector,
    mtype,
    new Uint8Array(data.buffer),
    new Uint8Array(len.buffer),
  );
  if (depth < 0) return null;
  return { usage: usage[0], selector: selector[0], matchingType: mtype[0], depth };
}
