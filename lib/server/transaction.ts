import type { SpoolWriter } from "../spool/mod.ts";
import type { MailDsn, Recipient } from "../envelope/mod.ts";
import type { DmarcCheck, SpfCheck } from "../senderauth/mod.ts";
import type { BareNewlineFilter } from "../smtp/mod.ts";

/** One mail transaction: from MAIL FROM to the end of DATA/BDAT LAST, or RSET. */
export interface Transaction {
  /** Envelope sender; empty for `<>`. */
  sender: string;
  /** SIZE= declared by the client, if any. */
  declaredSize?: number;
  bodyType: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8: boolean;
  dsn: MailDsn;
  recipients: Recipient[];
  /** The DMARC result, when checked (for a forensic report). */
  dmarc?: DmarcCheck;
  /** The SPF result of MAIL FROM, when checked. */
  spf?: SpfCheck | null;
  /** Recipients an ACL accepted with `discard`: answered 250, never delivered. */
  discarded?: number;
  /** A predata or data ACL said `discard`: the message is accepted and thrown away. */
  discard?: boolean;
  /** The body being received (streamed to the spool); dropped if the transaction ends first. */
  body?: SpoolWriter;
  /** BDAT state: the message id, our Received header; `newlines` applies bare_newline across chunks. */
  bdat?: { id: string; received: Uint8Array; newlines: BareNewlineFilter };
}

/** Creates a new transaction for a sender. */
export function newTransaction(sender: string): Transaction {
  return { sender, bodyType: "7BIT", smtputf8: false, dsn: {}, recipients: [] };
}
