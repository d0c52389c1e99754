import { allowedReportAddresses, forensicReport, reportUris } from "../senderauth/mod.ts";
import { localEnvelope, newMessageId } from "../envelope/mod.ts";
import type { Session } from "./session.ts";
import type { Transaction } from "./transaction.ts";
import { joined } from "./sender_auth.ts";

/**
 * Sends a DMARC failure report (RFC 7489 7.3) for this message when a rule asked for it by
 * setting the variable `m_dmarc_forensic` (Exim's `control = dmarc_enable_forensic`), only
 * to ruf= addresses the policy domain allows, from `[dmarc] forensic_sender`. `start` is the
 * beginning of the message (the report carries its header only).
 */
export async function forensicIfAsked(
  s: Session,
  tx: Transaction,
  start: Uint8Array[],
): Promise<void> {
  const a = s.deps.senderAuth;
  const d = tx.dmarc;
  const from = s.config.dmarc.forensic_sender;
  const asked = s.policy.context.vars["m_dmarc_forensic"];
  if (!a || !d || d.result !== "fail" || !from || (asked !== true && asked !== "true")) return;
  try {
    const to = await allowedReportAddresses(
      d.domain,
      reportUris(d.record).ruf,
      a.resolver,
    );
    if (to.length === 0) return;
    const report = forensicReport({
      from,
      to,
      hostname: s.config.server.hostname,
      message: joined(start),
      ip: s.peer.ip,
      mailFrom: tx.sender,
      dmarc: d,
      authResults: s.pendingHeaders.find((h) => h.startsWith("Authentication-Results:")) ?? "",
    });
    const id = newMessageId();
    await s.deps.spool.store(
      localEnvelope({
        id,
        sender: from,
        recipients: to,
        hostname: s.config.server.hostname,
        origin: "dmarc-forensic",
      }),
      [report],
    );
    s.deps.log.info(`${id} <= ${from} DMARC failure report for ${d.domain} to ${to.join(", ")}`, {
      event: "dmarc_forensic",
      id,
    });
  } catch (e) {
    s.deps.log.warn(`${s.hostText} DMARC failure report not sent: ${(e as Error).message}`);
  }
}
