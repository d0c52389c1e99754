/**
 * Bounces and delay warnings: RFC 3464 delivery status notifications to the envelope sender,
 * with Exim's DSN_INFO extras (remote IP, greeting, EHLO reply, our diagnostic).
 *
 * @module
 */
export {
  buildDsn,
  type DsnAction,
  type DsnInput,
  type ReportedRecipient,
  sanitize,
  statusOf,
  wantsNotice,
} from "./dsn.ts";
