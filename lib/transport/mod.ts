/**
 * Outbound delivery: the ESMTP client (EHLO/HELO, STARTTLS, AUTH, SIZE, 8BITMIME, SMTPUTF8,
 * PIPELINING, DSN), the SMTP transport by MX or smarthost with connection reuse and host
 * retry memory, and the discard and fail transports. Every transport takes a message and
 * recipients and says per recipient delivered, deferred or failed.
 *
 * @module
 */
export { type DaneHost, type DanePlan, planDane, usableTlsa } from "./dane.ts";
export { dotStuff } from "./dot_stuff.ts";
export { SmtpClientError } from "./errors.ts";
export { HostRetryMemory, type HostRetryOptions } from "./host_retry.ts";
export { ConnectionPool, type PoolOptions } from "./pool.ts";
export { parseReplyLines, ReplyReader } from "./reply_reader.ts";
export { DiscardTransport, FailTransport } from "./simple_transports.ts";
export {
  type ConnectOptions,
  SmtpConnection,
  type SmtpTimeouts,
  TlsHandshakeError,
  TlsPolicyError,
  type TransactionResult,
} from "./smtp_connection.ts";
export { domainOf, SmtpTransport, type SmtpTransportOptions } from "./smtp_transport.ts";
export {
  type DeliverOptions,
  formatReply,
  type OutboundMessage,
  type RecipientResult,
  type RemoteInfo,
  type SmtpReply,
  type Transport,
} from "./types.ts";
export { TLS_LEVELS, type TlsLevel, tlsLevel } from "./tls_policy.ts";
