import { type DsnAction, type ReportedRecipient, wantsNotice } from "../bounce/mod.ts";
import type { Envelope, Recipient } from "../envelope/mod.ts";
import type { Router } from "../router/mod.ts";
import {
  BodyMismatchError,
  envelopeMutations,
  type Mutation,
  removeFinished,
  type Spool,
} from "../spool/mod.ts";
import { domainOf, type OutboundMessage, type RecipientResult } from "../transport/mod.ts";
import type { QueueLog } from "./log_lines.ts";
import { dueForWarning, queueNotice, warnedKey } from "./notices.ts";
import { recordResults } from "./outcomes.ts";
import type { RetrySchedule } from "./retry_rules.ts";
import type { KeyedSemaphore, Semaphore } from "./semaphore.ts";
import type { DeliveryEvent } from "./types.ts";

/** A delivery's outcome that has still to be committed, with the events it will emit. */
export interface Outcome {
  env: Envelope;
  failures: ReportedRecipient[];
  successes: ReportedRecipient[];
  dirty: boolean;
  /** Outcome events, handed on only after the commit that records them. */
  events: DeliveryEvent[];
}

/** What one message's delivery needs from the runner. */
export interface DeliveryDeps {
  spool: Spool;
  router: Router;
  retry: RetrySchedule;
  hostname: string;
  now: () => number;
  delayWarning: number;
  global: Semaphore;
  perDomain: KeyedSemaphore;
  /** Logs and counts an outcome at once; `emit` hands it to listeners (after a commit). */
  report(e: DeliveryEvent): void;
  emit(e: DeliveryEvent): void;
  /** A notice (bounce, warning) was queued: deliver it. */
  queued(id: string): void;
  alert(text: string, fields?: Record<string, unknown>): void;
  log: QueueLog;
}

/**
 * How one message is sent and its outcome recorded (the "how to send" of Postfix's split):
 * due recipients routed and handed to transports under the concurrency limits, results
 * applied to the envelope, failures bounced in the same commit that marks them, the message
 * removed when done. Events are emitted only after the commit that records them.
 */
export class MessageDelivery {
  readonly #d: DeliveryDeps;

  /** Keeps the dependencies. */
  constructor(deps: DeliveryDeps) {
    this.#d = deps;
  }

  /**
   * Sends the due recipients (all open ones, forced). Resolves to the outcome to commit, the
   * envelope when frozen, or null when the message is gone.
   */
  async send(id: string, force: boolean): Promise<Outcome | Envelope | null> {
    const d = this.#d;
    const env = await d.spool.get(id);
    if (!env) return null;
    if (env.frozen) return env;
    const now = d.now();
    const due = env.recipients.filter((r) =>
      (r.status === "pending" || r.status === "deferred") && (force || r.nextAttempt <= now)
    );
    const out: Outcome = { env, failures: [], successes: [], dirty: false, events: [] };
    if (due.length === 0) return out;
    // The body is checked against the envelope as it is read: a mismatch (chunks missing)
    // stops the transfer before the final dot, and the message is frozen below.
    let broken: BodyMismatchError | null = null;
    const message: OutboundMessage = {
      envelope: env,
      body: () => watchBody(d.spool.body(id, env), (e) => broken ??= e),
    };
    const { groups, unrouted, unresolved } = await d.router.plan(due);
    if (unresolved.length > 0) {
      const results = unresolved.map((u): RecipientResult => ({
        address: u.recipient.address,
        status: "deferred",
        diagnostic: u.error,
      }));
      this.#apply(out, unresolved.map((u) => u.recipient), results, "-");
    }
    for (const r of unrouted) {
      const result: RecipientResult = {
        address: r.address,
        status: "failed",
        diagnostic: `No route for domain ${domainOf(r.address)}`,
      };
      out.failures.push({ recipient: r, result });
      this.#event(out, { kind: "failed", id, transport: "-", result });
    }
    let saving = Promise.resolve();
    await Promise.all(groups.map(async (g) => {
      const domain = domainOf(g.recipients[0].address);
      // Domain slot first: waiting for a busy domain must not hold a global slot.
      const releaseDomain = await d.perDomain.acquire(domain);
      const releaseGlobal = await d.global.acquire();
      let results: RecipientResult[];
      try {
        results = await g.transport.deliver(message, g.recipients, { force });
      } catch (e) {
        results = g.recipients.map((r) => ({
          address: r.address,
          status: "deferred",
          diagnostic: `Transport ${g.transport.name} failed: ${(e as Error).message}`,
        }));
      } finally {
        releaseDomain();
        releaseGlobal();
      }
      const changed = this.#apply(out, g.recipients, results, g.transport.name);
      // With several groups, commit each one's deliveries at once so that a crash while
      // the others run cannot send them again; a lone group is committed by record().
      // A failed save here is not fatal: record() commits the whole envelope (or holds it).
      if (changed && groups.length > 1) {
        saving = saving.then(() => d.spool.update(env)).catch(() => {});
      }
      await saving;
    }));
    if (broken) return await this.freeze(env, broken);
    return out;
  }

  /**
   * Commits an outcome: failures marked together with their bounce (one atomic commit), a
   * delay warning when due, the message removed once every recipient is done; then its
   * events are emitted. Safe to call again after a failed commit (a full disk): the lists of
   * recipients whose notice was committed are emptied. Resolves true when the message is done.
   */
  async record(o: Outcome): Promise<boolean> {
    const d = this.#d;
    const env = o.env;
    for (const f of o.failures) f.recipient.status = "failed";
    const notify = o.failures.filter((f) => wantsNotice(env, f.recipient, "failed"));
    const done = env.recipients.every((r) => r.status === "delivered" || r.status === "failed");
    let saved = false;
    if (notify.length > 0) {
      await this.bounce(env, notify, "failed", envelopeMutations(env), o.events);
      o.failures.length = 0;
      saved = true;
    }
    if (o.successes.length > 0) {
      await this.bounce(env, o.successes, "relayed", envelopeMutations(env), o.events);
      o.successes.length = 0;
      saved = true;
    }
    if (!saved && (o.failures.length > 0 || o.dirty) && !done) await d.spool.update(env);
    // Removal is the commit that records the last deliveries when the message is done.
    if (done) {
      await removeFinished(d.spool, env, [{
        key: warnedKey(d.spool, env.id),
        value: undefined,
        bytes: 64,
      }]);
      this.#flush(o);
      this.#committed(o, { kind: "completed", id: env.id });
      return true;
    }
    this.#flush(o);
    await this.#maybeWarn(env);
    return false;
  }

  /**
   * Removes a message from the queue; with `bounce`, its undelivered recipients get a bounce
   * ("removed by the administrator") first. Returns false when there is no such message.
   */
  async remove(id: string, bounce: boolean): Promise<boolean> {
    const spool = this.#d.spool;
    const env = await spool.get(id);
    if (!env) return false;
    const open = env.recipients.filter((r) => r.status === "pending" || r.status === "deferred");
    const notify = bounce
      ? open.filter((r) => wantsNotice(env, r, "failed")).map((r) => ({
        recipient: r,
        result: {
          address: r.address,
          status: "failed" as const,
          diagnostic: `Message removed from the queue by the administrator` +
            (r.lastError ? `; last error: ${r.lastError}` : ""),
        },
      }))
      : [];
    for (const r of open) r.status = "failed";
    if (notify.length > 0) await this.bounce(env, notify, "failed", envelopeMutations(env));
    await spool.remove(id, [{ key: warnedKey(spool, id), value: undefined, bytes: 64 }]);
    this.#d.log.info(`${id} removed by the administrator${notify.length ? " (bounced)" : ""}`, {
      event: "removed",
      id,
    });
    return true;
  }

  /**
   * Stops delivering a message whose body does not match its envelope: sending it would send
   * a truncated or altered message. It stays in the spool, marked, for an admin.
   */
  async freeze(env: Envelope, e: BodyMismatchError): Promise<Envelope> {
    env.frozen = e.message;
    this.#d.alert(`${env.id} frozen: ${e.message}; not sent (see relay queue show)`, {
      event: "frozen",
      id: env.id,
    });
    await this.#d.spool.update(env);
    return env;
  }

  /**
   * Queues a DSN (bounce, delay warning, success notice) for some recipients, committed with
   * `extra`; its event goes to `pending` (emitted with the outcome) or out at once.
   */
  async bounce(
    env: Envelope,
    recipients: ReportedRecipient[],
    action: DsnAction,
    extra: Mutation[],
    pending?: DeliveryEvent[],
  ): Promise<void> {
    const d = this.#d;
    const id = await queueNotice(d.spool, env, recipients, {
      action,
      hostname: d.hostname,
      now: d.now(),
      extra,
      willRetryUntil: action === "delayed"
        ? d.retry.giveUpAt(domainOf(recipients[0].recipient.address), env.received)
        : undefined,
    });
    const e: DeliveryEvent = {
      kind: action === "failed" ? "bounce" : action === "delayed" ? "warning" : "success",
      id,
      original: env.id,
      to: env.sender,
    };
    // The notice is committed: its event may go out with the others of this outcome.
    if (pending) this.#event({ events: pending }, e);
    else this.#committed(null, e);
    d.queued(id);
  }

  async #maybeWarn(env: Envelope): Promise<void> {
    const d = this.#d;
    const now = d.now();
    const waiting = await dueForWarning(d.spool, env, d.delayWarning, now);
    if (waiting.length === 0) return;
    await this.bounce(env, waiting, "delayed", [{
      key: warnedKey(d.spool, env.id),
      value: now,
      bytes: 64,
    }]);
  }

  /** Records results on the recipients; failures are collected for one bounce. */
  #apply(
    out: Outcome,
    recipients: Recipient[],
    results: RecipientResult[],
    transport: string,
  ): boolean {
    const d = this.#d;
    const rec = recordResults(out.env, recipients, results, {
      transport,
      now: d.now(),
      retry: d.retry,
    });
    for (const e of rec.events) this.#event(out, e);
    out.failures.push(...rec.failures);
    out.successes.push(...rec.successes);
    out.dirty ||= rec.changed;
    return rec.changed;
  }

  /** Logs an outcome now; keeps its event until the commit that records it. */
  #event(out: { events: DeliveryEvent[] }, e: DeliveryEvent): void {
    this.#d.report(e);
    out.events.push(e);
  }

  /** Logs an already committed outcome and emits it (after the outcome's pending ones). */
  #committed(out: Outcome | null, e: DeliveryEvent): void {
    this.#d.report(e);
    if (out) this.#flush(out);
    this.#d.emit(e);
  }

  /** Emits the events of a committed outcome, in order. */
  #flush(out: Outcome): void {
    for (const e of out.events.splice(0)) this.#d.emit(e);
  }
}

/** Passes a body through, telling `onMismatch` when the spool says it is not the one stored. */
async function* watchBody(
  body: AsyncIterable<Uint8Array>,
  onMismatch: (e: BodyMismatchError) => void,
): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (e) {
    if (e instanceof BodyMismatchError) onMismatch(e);
    throw e;
  }
}
