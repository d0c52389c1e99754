import type { DeliveryEvent, QueueLog } from "./types.ts";

export type { QueueLog };
import type { RecipientResult } from "../transport/mod.ts";

/** Logs nothing (when no logger is given). */
export const silentLog: QueueLog = { info() {}, warn() {} };

function clean(text: string): string {
  return text.replace(/\p{Cc}/gu, "?");
}

function where(r: RecipientResult): string {
  const m = r.remote;
  if (!m) return "";
  const port = m.port === 25 ? "" : `:${m.port}`;
  const dane = (m.dane ? ` ${m.dane}` : "") +
    (m.tlsaUsage !== undefined ? ` tls_out_tlsa_usage=${m.tlsaUsage}` : "");
  // Exim's CV= (log_selector tls_certificate_verified): the level's certificate checks passed.
  const tls = m.tls ? ` X=${clean(m.tls)} CV=${m.verified ? "yes" : "no"}` : "";
  return ` H=${clean(m.host)} [${m.ip}]${port}${tls}${dane}`;
}

/** Exim's `=>` line: a recipient delivered. */
export function logDelivered(
  log: QueueLog,
  id: string,
  transport: string,
  r: RecipientResult,
): void {
  const reply = r.reply ? ` C="${clean(r.diagnostic)}"` : "";
  log.info(`${id} => ${clean(r.address)} T=${transport}${where(r)}${reply}`, {
    event: "delivered",
    id,
    rcpt: r.address,
    transport,
    host: r.remote?.host,
    ip: r.remote?.ip,
    tls: r.remote?.tls,
  });
}

/** Exim's `==` line: a recipient deferred until `next`. */
export function logDeferred(
  log: QueueLog,
  id: string,
  transport: string,
  r: RecipientResult,
  next: number,
): void {
  log.info(
    `${id} == ${clean(r.address)} T=${transport}${where(r)} defer: ${clean(r.diagnostic)}` +
      ` (retry at ${new Date(next).toISOString()})`,
    { event: "deferred", id, rcpt: r.address, transport, next },
  );
}

/** Exim's `**` line: a recipient failed for good. */
export function logFailed(log: QueueLog, id: string, transport: string, r: RecipientResult): void {
  log.info(`${id} ** ${clean(r.address)} T=${transport}${where(r)}: ${clean(r.diagnostic)}`, {
    event: "failed",
    id,
    rcpt: r.address,
    transport,
  });
}

/** A bounce (or delay warning) was queued: Exim's `<=` for the new message with `R=` the original. */
export function logBounce(
  log: QueueLog,
  bounceId: string,
  id: string,
  to: string,
  kind: string,
): void {
  log.info(`${bounceId} <= <> R=${id} U=${kind} for ${clean(to)}`, {
    event: "bounce",
    id: bounceId,
    original: id,
  });
}

/** Every recipient is done: the message leaves the queue. */
export function logCompleted(log: QueueLog, id: string): void {
  log.info(`${id} Completed`, { event: "completed", id });
}

/** Writes the log line of one outcome (`=>`, `==`, `**`, a notice, `Completed`). */
export function logEvent(log: QueueLog, e: DeliveryEvent): void {
  switch (e.kind) {
    case "delivered":
      return logDelivered(log, e.id, e.transport, e.result);
    case "deferred":
      return logDeferred(log, e.id, e.transport, e.result, e.next ?? 0);
    case "failed":
      return logFailed(log, e.id, e.transport, e.result);
    case "bounce":
    case "warning":
    case "success":
      return logBounce(log, e.id, e.original, e.to, e.kind);
    case "completed":
      return logCompleted(log, e.id);
  }
}
