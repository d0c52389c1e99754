import { type ReportedRecipient, wantsNotice } from "../bounce/mod.ts";
import type { Envelope, Recipient } from "../envelope/mod.ts";
import { domainOf, type RecipientResult } from "../transport/mod.ts";
import type { RetrySchedule } from "./retry_rules.ts";
import type { DeliveryEvent } from "./types.ts";

/** What recording a transport's results decided. */
export interface Recorded {
  /** Some recipient's state changed (delivered or deferred) and needs committing. */
  changed: boolean;
  /** One event per recipient, for the log and hooks. */
  events: DeliveryEvent[];
  /** Recipients that failed for good (to be marked failed together with their bounce). */
  failures: ReportedRecipient[];
  /** Delivered recipients owed a success notice: NOTIFY=SUCCESS, peer without DSN. */
  successes: ReportedRecipient[];
}

/**
 * Records a transport's results on the recipients: delivered; deferred until the retry rules'
 * next time; or failed, including deferrals past the last retry cutoff. Failed recipients are
 * only collected here: they are marked when their bounce is committed.
 */
export function recordResults(
  env: Envelope,
  recipients: Recipient[],
  results: RecipientResult[],
  ctx: { transport: string; now: number; retry: RetrySchedule },
): Recorded {
  const out: Recorded = { changed: false, events: [], failures: [], successes: [] };
  const { transport } = ctx;
  results.forEach((res, i) => {
    const r = recipients[i];
    r.attempts++;
    if (res.status === "delivered") {
      r.status = "delivered";
      r.lastError = undefined;
      out.events.push({ kind: "delivered", id: env.id, transport, result: res });
      out.changed = true;
      // RFC 3461 6.2.6.1: relayed to an MTA that cannot carry NOTIFY on: we report it.
      if (res.remote && !res.remote.dsn && wantsNotice(env, r, "relayed")) {
        out.successes.push({ recipient: r, result: res });
      }
      return;
    }
    r.lastError = res.diagnostic.slice(0, 1000);
    if (res.status === "deferred") {
      const next = ctx.retry.next(domainOf(r.address), env.received, ctx.now);
      if (next !== null) {
        r.status = "deferred";
        r.nextAttempt = next;
        out.events.push({ kind: "deferred", id: env.id, transport, result: res, next });
        out.changed = true;
        return;
      }
      res = {
        ...res,
        status: "failed",
        diagnostic: "Retry time not reached for any host after a long failure period; " +
          `last error: ${res.diagnostic}`,
      };
    }
    out.failures.push({ recipient: r, result: res });
    out.events.push({ kind: "failed", id: env.id, transport, result: res });
  });
  return out;
}
