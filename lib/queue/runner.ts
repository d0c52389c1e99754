import { type DsnAction, type ReportedRecipient, wantsNotice } from "../bounce/mod.ts";
import {
  BodyMismatchError,
  type Envelope,
  envelopeMutations,
  type Mutation,
  type Recipient,
  removeFinished,
} from "../spool/mod.ts";
import { domainOf, type OutboundMessage, type RecipientResult } from "../transport/mod.ts";
import {
  logBounce,
  logCompleted,
  logDeferred,
  logDelivered,
  logFailed,
  type QueueLog,
  silentLog,
} from "./log_lines.ts";
import { holdLease, LEASE_MS, type QueueRequest, releaseLease, takeRequests } from "./control.ts";
import { dueForWarning, queueNotice, warnedKey } from "./notices.ts";
import { recordResults } from "./outcomes.ts";
import { RetrySchedule } from "./retry_rules.ts";
import type { DeliveryEvent, QueueRunnerOptions, RunSummary } from "./types.ts";
import { KeyedSemaphore, Semaphore } from "./semaphore.ts";

/**
 * Delivers what the spool holds: each recipient when due, by its route, with retry rules,
 * bounces for failures, and the message removed once every recipient is delivered or
 * failed and bounced. State changes are committed before they count, so a crash at any point
 * leads to a retry (at least once), never to a loss, and a delivered recipient is never sent
 * again.
 */
export class QueueRunner {
  #o: QueueRunnerOptions;
  #retry: RetrySchedule;
  #log: QueueLog;
  #now: () => number;
  #global: Semaphore;
  #perDomain: KeyedSemaphore;
  #inFlight = new Map<string, Promise<void>>();
  #running = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #summary: RunSummary = emptySummary();
  #due = new Map<string, number>();
  #lastScan = -Infinity;
  #nextWake = Infinity;
  #control: Promise<void> | null = null;
  #wakeControl: (() => void) | null = null;
  /**
   * Outcomes of deliveries that were made but could not be committed (a full disk): kept here
   * and committed again, never delivered again. While any is held, no new delivery starts.
   */
  #held = new Map<string, HeldOutcome>();
  #commitFailing = false;

  /** Creates a runner; nothing happens until {@linkcode QueueRunner.start} or a run call. */
  constructor(opts: QueueRunnerOptions) {
    this.#o = opts;
    this.#retry = opts.retry ?? new RetrySchedule();
    this.#log = opts.log ?? silentLog;
    this.#now = opts.now ?? Date.now;
    this.#global = new Semaphore(opts.concurrency ?? 20);
    this.#perDomain = new KeyedSemaphore(opts.maxPerDomain ?? 10);
  }

  /**
   * Starts the background loop: a pass now, then whenever something is due. While running it
   * holds the spool's runner lease and serves flush requests left by `relay queue flush`.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
    this.#control = this.#serveControl();
  }

  #serveRequest(req: QueueRequest): void {
    if (req.op === "flush") {
      this.#log.info(`queue flush requested${req.id ? ` for ${req.id}` : ""}`, { event: "flush" });
      if (req.id) this.#deliver(req.id, true);
      else this.#startDue(true, true);
    } else {
      this.remove(req.id, { bounce: req.bounce }).catch((e) =>
        this.#log.warn(`${req.id} cannot remove: ${(e as Error).message}`)
      );
    }
  }

  /** Renews the lease and takes CLI requests about once a second. */
  async #serveControl(): Promise<void> {
    const spool = this.#o.spool;
    let renewed = 0;
    let failing = false; // said once per state change, not every second (a full disk)
    while (this.#running) {
      try {
        if (Date.now() - renewed > LEASE_MS / 3) {
          await holdLease(spool);
          renewed = Date.now();
        }
        for (const req of await takeRequests(spool)) this.#serveRequest(req);
        if (failing) this.#log.info("queue control works again");
        failing = false;
      } catch (e) {
        if (!failing) this.#log.warn(`queue control error: ${(e as Error).message}`);
        failing = true;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.#wakeControl = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wakeControl = null;
    }
    await releaseLease(spool).catch(() => {});
  }

  /**
   * Stops the loop and waits for deliveries in flight; after `timeout` ms (if given) it cuts
   * the connections still busy, so those recipients are recorded as deferred (and sent again
   * later: at least once).
   */
  async stop(opts: { timeout?: number } = {}): Promise<void> {
    this.#running = false;
    this.#wake?.();
    this.#wakeControl?.();
    await this.#loop;
    await this.#control;
    const inFlight = Promise.all(this.#inFlight.values());
    if (opts.timeout !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = await Promise.race([
        inFlight.then(() => false),
        new Promise<boolean>((r) => timer = setTimeout(() => r(true), opts.timeout)),
      ]);
      clearTimeout(timer);
      if (late) await this.#o.router.close({ abort: true });
    }
    await inFlight;
    // Outcomes still unrecorded get a last try; what stays unrecorded is said loudly.
    for (const [id, held] of [...this.#held]) await this.#record(id, held);
    if (this.#held.size > 0) {
      this.#alert(
        `stopping with ${this.#held.size} delivery outcome(s) not recorded in the spool ` +
          `(${[...this.#held.keys()].join(" ")}): they will be delivered again`,
        { event: "outcomes_lost" },
      );
    }
    if (this.#o.closeRouter) await this.#o.router.close();
  }

  /**
   * Removes a message from the queue; with `bounce`, its undelivered recipients get a bounce
   * ("removed by the administrator") first. Returns false when there is no such message.
   */
  async remove(id: string, opts: { bounce?: boolean } = {}): Promise<boolean> {
    await this.#inFlight.get(id);
    const env = await this.#o.spool.get(id);
    if (!env) return false;
    const open = env.recipients.filter((r) => r.status === "pending" || r.status === "deferred");
    const notify = opts.bounce
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
    if (notify.length > 0) await this.#bounce(env, notify, "failed", envelopeMutations(env));
    await this.#o.spool.remove(id, [{ key: warnedKey(id), value: undefined, bytes: 64 }]);
    this.#due.delete(id);
    this.#held.delete(id); // an outcome still to record must not bring the message back
    this.#commitsWork();
    this.#log.info(`${id} removed by the administrator${notify.length ? " (bounced)" : ""}`, {
      event: "removed",
      id,
    });
    return true;
  }

  /** A new message is in the spool: deliver it now rather than at the next scan. */
  notify(id: string): void {
    this.#deliver(id, false);
  }

  /** One pass over the queue: every due recipient is tried; resolves when done. */
  runOnce(): Promise<RunSummary> {
    return this.#pass(false);
  }

  /**
   * Forces an attempt now for every undelivered recipient of one message (or of all),
   * ignoring retry times and host retry waits.
   */
  flush(id?: string): Promise<RunSummary> {
    return id === undefined ? this.#pass(true) : this.#counted(() => this.#deliver(id, true));
  }

  async #run(): Promise<void> {
    const interval = this.#o.interval ?? 60_000;
    while (this.#running) {
      try {
        // A full look at the spool every interval; in between, the in-memory schedule.
        if (this.#now() - this.#lastScan >= interval) await this.#scan();
        this.#startDue(false);
      } catch (e) {
        this.#log.warn(`queue runner error: ${(e as Error).message}`);
      }
      if (!this.#running) break;
      let next = this.#lastScan + interval;
      for (const [id, at] of this.#due) if (!this.#inFlight.has(id)) next = Math.min(next, at);
      if (this.#held.size > 0) next = Math.min(next, this.#now() + HELD_RETRY_MS);
      this.#nextWake = next;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(50, next - this.#now()));
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Rebuilds the schedule (message id to earliest due time) from the spool. */
  async #scan(): Promise<void> {
    const fresh = new Map<string, number>();
    for await (const env of this.#o.spool.list()) fresh.set(env.id, dueAt(env));
    this.#due = fresh;
    this.#lastScan = this.#now();
  }

  /** Starts delivery of every scheduled message that is due (or all, forced). */
  #startDue(force: boolean, rescan = false): Promise<void>[] {
    if (rescan) {
      // A flush request: look at the whole spool first, then force everything.
      this.#scan().then(
        () => this.#running && this.#startDue(force),
        (e) => this.#log.warn(`queue scan failed: ${(e as Error).message}`),
      );
      return [];
    }
    const now = this.#now();
    const work: Promise<void>[] = [];
    if (this.#held.size > 0) {
      // Commits fail: only try to record what was delivered; start nothing new.
      for (const id of this.#held.keys()) work.push(this.#deliver(id, false));
      return work;
    }
    for (const [id, at] of this.#due) if (force || at <= now) work.push(this.#deliver(id, force));
    return work;
  }

  /** Schedules another try at committing a held outcome, waking the loop for it. */
  #retryLater(id: string): void {
    const at = this.#now() + HELD_RETRY_MS;
    this.#due.set(id, at);
    if (at < this.#nextWake) this.#wake?.();
  }

  /** Keeps the schedule up to date after a delivery; wakes the loop for an earlier time. */
  #track(id: string, env: Envelope | null): void {
    if (!env) {
      this.#due.delete(id);
      return;
    }
    const at = dueAt(env);
    this.#due.set(id, at);
    if (at < this.#nextWake) this.#wake?.();
  }

  async #counted(fn: () => Promise<void>): Promise<RunSummary> {
    const before = { ...this.#summary };
    await fn();
    const s = this.#summary;
    return {
      messages: s.messages - before.messages,
      delivered: s.delivered - before.delivered,
      deferred: s.deferred - before.deferred,
      failed: s.failed - before.failed,
      bounces: s.bounces - before.bounces,
    };
  }

  /** A full pass: look at the whole spool, deliver what is due (or everything, forced). */
  #pass(force: boolean): Promise<RunSummary> {
    return this.#counted(async () => {
      await this.#scan();
      await Promise.all(this.#startDue(force));
    });
  }

  /** Delivers one message's due recipients; one delivery per message at a time. */
  #deliver(id: string, force: boolean): Promise<void> {
    const running = this.#inFlight.get(id);
    if (running) return running;
    // While outcomes cannot be recorded, nothing new is sent (the next scan finds it later).
    if (this.#held.size > 0 && !this.#held.has(id)) return Promise.resolve();
    const held = this.#held.get(id);
    const work = held ? this.#record(id, held) : this.#deliverMessage(id, force);
    const p = work.then((env) => {
      this.#inFlight.delete(id);
      if (this.#held.has(id)) this.#retryLater(id);
      else this.#track(id, env);
    }, (e) => {
      // A spool problem, not a delivery outcome: log it and look again in a minute.
      this.#inFlight.delete(id);
      this.#due.set(id, this.#now() + 60_000);
      this.#log.warn(`${id} queue error: ${(e as Error).message ?? e}`);
    });
    this.#inFlight.set(id, p);
    return p;
  }

  /** Delivers the due recipients; resolves to the envelope left, or null when it is gone. */
  async #deliverMessage(id: string, force: boolean): Promise<Envelope | null> {
    const spool = this.#o.spool;
    const env = await spool.get(id);
    if (!env) return null;
    if (env.frozen) return env;
    this.#summary.messages++;
    const now = this.#now();
    const due = env.recipients.filter((r) =>
      (r.status === "pending" || r.status === "deferred") && (force || r.nextAttempt <= now)
    );
    const failures: ReportedRecipient[] = [];
    const successes: ReportedRecipient[] = [];
    let dirty = false;
    if (due.length > 0) {
      // The body is checked against the envelope as it is read: a mismatch (chunks missing)
      // stops the transfer before the final dot, and the message is frozen below.
      let broken: BodyMismatchError | null = null;
      const message: OutboundMessage = {
        envelope: env,
        body: () => watchBody(spool.body(id, env), (e) => broken ??= e),
      };
      const { groups, unrouted, unresolved } = await this.#o.router.plan(due);
      if (unresolved.length > 0) {
        const results = unresolved.map((u): RecipientResult => ({
          address: u.recipient.address,
          status: "deferred",
          diagnostic: u.error,
        }));
        dirty ||= this.#apply(
          env,
          unresolved.map((u) => u.recipient),
          results,
          "-",
          failures,
          successes,
        );
      }
      for (const r of unrouted) {
        const result: RecipientResult = {
          address: r.address,
          status: "failed",
          diagnostic: `No route for domain ${domainOf(r.address)}`,
        };
        failures.push({ recipient: r, result });
        this.#report({ kind: "failed", id, transport: "-", result });
      }
      let saving = Promise.resolve();
      await Promise.all(groups.map(async (g) => {
        const domain = domainOf(g.recipients[0].address);
        // Domain slot first: waiting for a busy domain must not hold a global slot.
        const releaseDomain = await this.#perDomain.acquire(domain);
        const releaseGlobal = await this.#global.acquire();
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
        const changed = this.#apply(
          env,
          g.recipients,
          results,
          g.transport.name,
          failures,
          successes,
        );
        dirty ||= changed;
        // With several groups, commit each one's deliveries at once so that a crash while
        // the others run cannot send them again; a lone group is committed by #finish.
        // A failed save here is not fatal: #finish commits the whole envelope (or holds it).
        if (changed && groups.length > 1) {
          saving = saving.then(() => spool.update(env)).catch(() => {});
        }
        await saving;
      }));
      if (broken) return await this.#freeze(env, broken);
    }
    return await this.#record(id, { env, failures, successes, dirty });
  }

  /** A commit worked: when nothing is held any more, deliveries resume (said once). */
  #commitsWork(): void {
    if (this.#held.size > 0 || !this.#commitFailing) return;
    this.#commitFailing = false;
    this.#lastScan = -Infinity; // look at the whole spool again: new mail waited
    this.#log.info("spool commits work again: delivery outcomes recorded, deliveries resume", {
      event: "spool_writable",
    });
  }

  /**
   * Commits the outcome of a delivery. When the commit fails (a full disk), the outcome is
   * held in memory and committed again about every second: the message is never delivered a
   * second time because its "delivered" could not be written. Resolves to the envelope left,
   * or null when the message is done.
   */
  async #record(id: string, outcome: HeldOutcome): Promise<Envelope | null> {
    try {
      const done = await this.#finish(
        outcome.env,
        outcome.failures,
        outcome.successes,
        outcome.dirty,
      );
      this.#held.delete(id);
      this.#commitsWork();
      return done ? null : outcome.env;
    } catch (e) {
      this.#held.set(id, outcome);
      if (!this.#commitFailing) {
        this.#commitFailing = true;
        this.#alert(
          `cannot record delivery outcomes (${(e as Error).message}): keeping them in memory ` +
            `and retrying the commit every second; no new deliveries until the spool can be ` +
            `written (is its disk full?)`,
          { event: "spool_unwritable", id },
        );
      }
      return outcome.env;
    }
  }

  /**
   * Stops delivering a message whose body does not match its envelope: sending it would send
   * a truncated or altered message. It stays in the spool, marked, for an admin.
   */
  async #freeze(env: Envelope, e: BodyMismatchError): Promise<Envelope> {
    env.frozen = e.message;
    this.#alert(`${env.id} frozen: ${e.message}; not sent (see relay queue show)`, {
      event: "frozen",
      id: env.id,
    });
    await this.#o.spool.update(env);
    return env;
  }

  #alert(text: string, fields?: Record<string, unknown>): void {
    if (this.#log.error) this.#log.error(text, fields);
    else this.#log.warn(text, fields);
  }

  /** Logs, counts and hands on one outcome: every log line of the queue is written here. */
  #report(e: DeliveryEvent): void {
    switch (e.kind) {
      case "delivered":
        this.#summary.delivered++;
        logDelivered(this.#log, e.id, e.transport, e.result);
        break;
      case "deferred":
        this.#summary.deferred++;
        logDeferred(this.#log, e.id, e.transport, e.result, e.next ?? 0);
        break;
      case "failed":
        this.#summary.failed++;
        logFailed(this.#log, e.id, e.transport, e.result);
        break;
      case "bounce":
      case "warning":
      case "success":
        this.#summary.bounces++;
        logBounce(this.#log, e.id, e.original, e.to, e.kind);
        break;
      case "completed":
        logCompleted(this.#log, e.id);
        break;
    }
    try {
      this.#o.onEvent?.(e);
    } catch (err) {
      this.#log.warn(`event hook failed: ${(err as Error).message}`);
    }
  }

  /** Records results on the recipients; failures are collected for one bounce. */
  #apply(
    env: Envelope,
    recipients: Recipient[],
    results: RecipientResult[],
    transport: string,
    failures: ReportedRecipient[],
    successes: ReportedRecipient[],
  ): boolean {
    const rec = recordResults(env, recipients, results, {
      transport,
      now: this.#now(),
      retry: this.#retry,
    });
    for (const e of rec.events) this.#report(e);
    failures.push(...rec.failures);
    successes.push(...rec.successes);
    return rec.changed;
  }

  /**
   * Marks failures together with their bounce (one atomic commit), sends a delay warning when
   * due, and removes the message once every recipient is done. Safe to call again after a
   * failed commit: the lists of recipients whose notice was committed are emptied.
   */
  async #finish(
    env: Envelope,
    failures: ReportedRecipient[],
    successes: ReportedRecipient[],
    dirty: boolean,
  ): Promise<boolean> {
    const spool = this.#o.spool;
    for (const f of failures) f.recipient.status = "failed";
    const notify = failures.filter((f) => wantsNotice(env, f.recipient, "failed"));
    const done = env.recipients.every((r) => r.status === "delivered" || r.status === "failed");
    let saved = false;
    if (notify.length > 0) {
      await this.#bounce(env, notify, "failed", envelopeMutations(env));
      failures.length = 0;
      saved = true;
    }
    if (successes.length > 0) {
      await this.#bounce(env, successes, "relayed", envelopeMutations(env));
      successes.length = 0;
      saved = true;
    }
    if (!saved && (failures.length > 0 || dirty) && !done) await spool.update(env);
    // Removal is the commit that records the last deliveries when the message is done.
    if (done) {
      await removeFinished(spool, env, [{ key: warnedKey(env.id), value: undefined, bytes: 64 }]);
      this.#report({ kind: "completed", id: env.id });
      return true;
    }
    await this.#maybeWarn(env);
    return false;
  }

  async #maybeWarn(env: Envelope): Promise<void> {
    const now = this.#now();
    const waiting = await dueForWarning(this.#o.spool, env, this.#o.delayWarning ?? 0, now);
    if (waiting.length === 0) return;
    await this.#bounce(env, waiting, "delayed", [{
      key: warnedKey(env.id),
      value: now,
      bytes: 64,
    }]);
  }

  async #bounce(
    env: Envelope,
    recipients: ReportedRecipient[],
    action: DsnAction,
    extra: Mutation[],
  ): Promise<void> {
    const id = await queueNotice(this.#o.spool, env, recipients, {
      action,
      hostname: this.#o.hostname,
      now: this.#now(),
      extra,
      willRetryUntil: action === "delayed"
        ? this.#retry.giveUpAt(domainOf(recipients[0].recipient.address), env.received)
        : undefined,
    });
    this.#report({
      kind: action === "failed" ? "bounce" : action === "delayed" ? "warning" : "success",
      id,
      original: env.id,
      to: env.sender,
    });
    this.#due.set(id, 0);
    if (this.#running) this.notify(id);
  }
}

/** How often a held outcome's commit is tried again. */
const HELD_RETRY_MS = 1000;

/** A delivery's outcome that has still to be committed. */
interface HeldOutcome {
  env: Envelope;
  failures: ReportedRecipient[];
  successes: ReportedRecipient[];
  dirty: boolean;
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

/**
 * When a message next needs attention: its earliest open recipient, or now when all are done;
 * never for a frozen message.
 */
function dueAt(env: Envelope): number {
  if (env.frozen) return Infinity;
  let at = Infinity;
  for (const r of env.recipients) {
    if (r.status === "pending" || r.status === "deferred") at = Math.min(at, r.nextAttempt);
  }
  return at === Infinity ? 0 : at;
}

function emptySummary(): RunSummary {
  return { messages: 0, delivered: 0, deferred: 0, failed: 0, bounces: 0 };
}

/**
 * Starts a queue runner in the background.
 *
 * @example Usage
 * ```ts
 * const runner = startQueueRunner({ spool, router, hostname: "relay.example.net" });
 * runner.notify(id); // after a message was stored
 * await runner.stop();
 * ```
 */
export function startQueueRunner(opts: QueueRunnerOptions): QueueRunner {
  const r = new QueueRunner(opts);
  r.start();
  return r;
}
