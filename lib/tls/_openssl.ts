import { TlsError } from "./errors.ts";

// OpenSSL 3 through Deno FFI. Only opaque pointers and accessor functions are used (no struct
// layouts), so this binds to any libssl.so.3 / libcrypto.so.3 (OpenSSL 3.x).

const SSL_SYMBOLS = {
  TLS_server_method: { parameters: [], result: "pointer" },
  TLS_client_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_free: { parameters: ["pointer"], result: "void" },
  SSL_CTX_use_certificate_chain_file: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_PrivateKey_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_get0_certificate: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_CTX_callback_ctrl: { parameters: ["pointer", "i32", "function"], result: "i64" },
  SSL_CTX_set_options: { parameters: ["pointer", "u64"], result: "u64" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_CTX_load_verify_locations: {
    parameters: ["pointer", "buffer", "pointer"],
    result: "i32",
  },
  SSL_CTX_dane_enable: { parameters: ["pointer"], result: "i32" },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_shutdown: { parameters: ["pointer"], result: "i32" },
  SSL_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_get_version: { parameters: ["pointer"], result: "pointer" },
  SSL_get_current_cipher: { parameters: ["pointer"], result: "pointer" },
  SSL_CIPHER_get_name: { parameters: ["pointer"], result: "pointer" },
  SSL_CIPHER_get_bits: { parameters: ["pointer", "pointer"], result: "i32" },
  SSL_get_peer_cert_chain: { parameters: ["pointer"], result: "pointer" },
  SSL_get0_peer_certificate: { parameters: ["pointer"], result: "pointer" },
  SSL_get_verify_result: { parameters: ["pointer"], result: "i64" },
  SSL_get_servername: { parameters: ["pointer", "i32"], result: "pointer" },
  SSL_set_SSL_CTX: { parameters: ["pointer", "pointer"], result: "pointer" },
  SSL_dane_enable: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_dane_tlsa_add: {
    parameters: ["pointer", "u8", "u8", "u8", "buffer", "usize"],
    result: "i32",
  },
  SSL_dane_set_flags: { parameters: ["pointer", "u64"], result: "u64" },
  SSL_get0_dane_authority: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  SSL_get0_dane_tlsa: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  SSL_set_hostflags: { parameters: ["pointer", "u32"], result: "void" },
  SSL_add1_host: { parameters: ["pointer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const CRYPTO_SYMBOLS = {
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_free: { parameters: ["pointer"], result: "i32" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  BIO_ctrl_pending: { parameters: ["pointer"], result: "usize" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_clear_error: { parameters: [], result: "void" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  OPENSSL_sk_num: { parameters: ["pointer"], result: "i32" },
  OPENSSL_sk_value: { parameters: ["pointer", "i32"], result: "pointer" },
  i2d_X509: { parameters: ["pointer", "buffer"], result: "i32" },
  X509_get0_notAfter: { parameters: ["pointer"], result: "pointer" },
  X509_get0_notBefore: { parameters: ["pointer"], result: "pointer" },
  X509_cmp_current_time: { parameters: ["pointer"], result: "i32" },
  ASN1_TIME_print: { parameters: ["pointer", "pointer"], result: "i32" },
  X509_verify_cert_error_string: { parameters: ["i64"], result: "pointer" },
  X509_get_subject_name: { parameters: ["pointer"], result: "pointer" },
  X509_NAME_oneline: { parameters: ["pointer", "pointer", "i32"], result: "pointer" },
  CRYPTO_free: { parameters: ["pointer", "pointer", "i32"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libssl and libcrypto functions. */
export type Ssl = Deno.DynamicLibrary<typeof SSL_SYMBOLS>["symbols"];
/** The bound libcrypto functions. */
export type Crypto = Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>["symbols"];

let loaded: { ssl: Ssl; crypto: Crypto } | null = null;

/**
 * The OpenSSL libraries, opened once per process.
 *
 * @throws {TlsError} in one line naming the library when it cannot be loaded
 */
export function openssl(): { ssl: Ssl; crypto: Crypto } {
  if (loaded) return loaded;
  let crypto: Crypto, ssl: Ssl;
  try {
    crypto = Deno.dlopen("libcrypto.so.3", CRYPTO_SYMBOLS).symbols;
    ssl = Deno.dlopen("libssl.so.3", SSL_SYMBOLS).symbols;
  } catch (e) {
    throw new TlsError(
      `Cannot load OpenSSL 3 (libssl.so.3, libcrypto.so.3; install libssl3 and allow FFI): ${
        (e as Error).message.split("\n")[0]
      }`,
      { cause: e },
    );
  }
  loaded = { ssl, crypto };
  return loaded;
}

// Macro numbers (OpenSSL 3.0 headers).
export const SSL_CTRL_MODE = 33;
export const SSL_CTRL_SET_TLSEXT_SERVERNAME_CB = 53;
export const SSL_CTRL_SET_TLSEXT_HOSTNAME = 55;
export const SSL_CTRL_GET_CHAIN_CERTS = 115;
export const SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
export const BIO_C_SET_BUF_MEM_EOF_RETURN = 130;
export const SSL_MODE_RELEASE_BUFFERS = 0x10n;
export const SSL_OP_NO_COMPRESSION = 1n << 17n;
export const SSL_OP_NO_RENEGOTIATION = 1n << 30n;
export const SSL_FILETYPE_PEM = 1;
export const SSL_ERROR_SSL = 1;
export const SSL_ERROR_WANT_READ = 2;
export const SSL_ERROR_WANT_WRITE = 3;
export const SSL_ERROR_SYSCALL = 5;
export const SSL_ERROR_ZERO_RETURN = 6;
export const DANE_FLAG_NO_DANE_EE_NAMECHECKS = 1n;
export const X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS = 0x4;
export const X509_CHECK_FLAG_NEVER_CHECK_SUBJECT = 0x20;
export const TLS1_2_VERSION = 0x0303n;
export const TLS1_3_VERSION = 0x0304n;

/** A NUL-terminated C string for a `buffer` parameter. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** Reads a C string OpenSSL owns (empty for NULL). */
export function readCString(p: Deno.PointerValue): string {
  return p ? Deno.UnsafePointerView.getCString(p) : "";
}

/** Empties OpenSSL's error queue into one line (empty when there was nothing). */
export function errorText(crypto: Crypto): string {
  const parts: string[] = [];
  const buf = new Uint8Array(256);
  for (let e = crypto.ERR_get_error(); e !== 0n; e = crypto.ERR_get_error()) {
    crypto.ERR_error_string_n(e, buf, 256n);
    const s = new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
    // "error:0A000086:SSL routines::certificate verify failed" -> the reason text
    parts.push(s.split(":").slice(-1)[0] || s);
  }
  return parts.join("; ");
}

/** The DER encoding of an `X509*`. */
export function certDer(crypto: Crypto, x509: Deno.PointerValue): Uint8Array {
  const len = crypto.i2d_X509(x509, null);
  if (len <= 0) return new Uint8Array(0);
  const out = new Uint8Array(len);
  const pp = new BigUint64Array([BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)))]);
  crypto.i2d_X509(x509, new Uint8Array(pp.buffer));
  return out;
}

/** An ASN1_TIME as OpenSSL prints it (`Jan  1 00:00:00 2030 GMT`). */
export function asn1Time(crypto: Crypto, t: Deno.PointerValue): string {
  const bio = crypto.BIO_new(crypto.BIO_s_mem());
  try {
    crypto.ASN1_TIME_print(bio, t);
    const n = Number(crypto.BIO_ctrl_pending(bio));
    const buf = new Uint8Array(n);
    crypto.BIO_read(bio, buf, n);
    return new TextDecoder().decode(buf);
  } finally {
    crypto.BIO_free(bio);
  }
}

/** The subject of an `X509*` in OpenSSL's one-line form (`/CN=mx.example.org`). */
export function subjectLine(crypto: Crypto, x509: Deno.PointerValue): string {
  const p = crypto.X509_NAME_oneline(crypto.X509_get_subject_name(x509), null, 0);
  if (!p) return "";
  const s = Deno.UnsafePointerView.getCString(p);
  crypto.CRYPTO_free(p, null, 0);
  return s;
}
