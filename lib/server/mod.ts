/**
 * The SMTP server: listeners, sessions (one handler per verb), PROXY negotiation, relay
 * control, Received headers, spooling before 250.
 *
 * @module
 */
export { type BoundAddress, type ServerOptions, SmtpServer } from "./server.ts";
export { protocolName, receivedHeader, rfc5322Date } from "./received.ts";
export { runTestSession, type TestSessionOptions } from "./test_session.ts";
export { readDmarcHistory, recordDmarcHistory } from "./sender_checks.ts";
export { type SenderAuth, senderAuthFor, spfFunction } from "./sender_auth.ts";
