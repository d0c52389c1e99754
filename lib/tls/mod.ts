/**
 * TLS: byte streams over TCP or TLS, and the server side of STARTTLS through node:tls over a
 * Deno connection (Deno's own TLS cannot upgrade an accepted socket mid-protocol).
 *
 * @module
 */
export { type ByteStream, connStream } from "./stream.ts";
export { duplexOver } from "./duplex.ts";
export { ServerCredentials, type TlsSessionInfo, upgradeServer } from "./server_tls.ts";
export { TlsError } from "./errors.ts";
export { tlsSocketStream } from "./tls_stream.ts";
