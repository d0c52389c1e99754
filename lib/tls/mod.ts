/**
 * TLS for SMTP, both directions, on OpenSSL 3 through FFI (libssl.so.3): upgrade a Deno
 * connection after STARTTLS to an encrypted {@linkcode ByteStream}, with the negotiated facts
 * (version, cipher, peer chain, SNI, chain and name checks, DANE). No OpenSSL type leaves this
 * folder. The certificate name rules (RFC 6125, RFC 7672 3.2) are our own code.
 *
 * @module
 */
export { type ByteStream, connStream } from "./stream.ts";
export {
  type CertificateFiles,
  ServerCredentials,
  type TlsSessionInfo,
  upgradeServer,
} from "./server_tls.ts";
export {
  checkCaFile,
  type ClientTlsOptions,
  type ClientTlsSession,
  type DaneMatch,
  SYSTEM_CA_FILE,
  type TlsaRecord,
  upgradeClient,
} from "./client_tls.ts";
export { certMatchesNames, dnsIdMatches } from "./name_check.ts";
export { type CertNames, certNames } from "./x509_names.ts";
export { checkOpenssl } from "./engine.ts";
export { TlsError } from "./errors.ts";
