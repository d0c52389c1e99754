import type { Envelope } from "../envelope/mod.ts";
import { logEvent, type QueueLog, silentLog } from "./log_lines.ts";
import type { QueueRequest } from "./control.ts";
import { ControlLoop } from "./control_loop.ts";
import { MessageDelivery, type Outcome } from "./delivery.ts";
import { alert, HeldOutcomes } from "./held_outcomes.ts";
import { RetrySchedule } from "./retry_rules.ts";
import { QueueSchedule } from "./schedule.ts";
import type { DeliveryEvent, QueueRunnerOptions, RunSummary } from "./types.ts";
import { KeyedSemaphore, Semaphore } from "./semaphore.ts";

/** How often a held outcome's commit is tried again. */
const HELD_RETRY_MS = 1000;

/**
 * Delivers what the spool holds: each recipient when due, by its route, with retry rules,
 * bounces for failures, and the message removed once every recipient is delivered or
 * failed and bounced. State changes are committed before they count, so a crash at any point
 * leads to a retry (at least once), never to a loss, and a delivered recipient is never sent
 * again. Its parts: {@linkcode QueueSchedule} (when), {@linkcode MessageDelivery} (how),
 * {@linkcode ControlLoop} (requests from the CLI); this class is their lifecycle.
 */
export class QueueRunner {
  #o: QueueRunnerOptions;
  #log: QueueLog;
  #now: () => number;
  #schedule: QueueSchedule;
  #delivery: MessageDelivery;
  #control: ControlLoop;
  #inFlight = new Map<string, Promise<void>>();
  #running = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #controlDone: Promise<void> | null = null;
  #summary: RunSummary = emptySummary();
  /** Outcomes delivered but not yet committed (a full disk): committed again, never re-sent. */
  #held: HeldOutcomes;

  /** Creates a runner; nothing happens until {@linkcode QueueRunner.start} or a run call. */
  constructor(opts: QueueRunnerOptions) {
    this.#o = opts;
    this.#log = opts.log ?? silentLog;
    this.#now = opts.now ?? Date.now;
    this.#schedule = new QueueSchedule(this.#now, () => this.#wake?.());
    this.#control = new ControlLoop(opts.spool, this.#log);
    this.#held = new HeldOutcomes((o) => this.#delivery.record(o), this.#log, () => {
      this.#schedule.lastScan = -Infinity; // look at the whole spool again: new mail waited
    });
    this.#delivery = new MessageDelivery({
      spool: opts.spool,
      router: opts.router,
      retry: opts.retry ?? new RetrySchedule(),
      hostname: opts.hostname,
      now: this.#now,
      delayWarning: opts.delayWarning ?? 0,
      global: new Semaphore(opts.concurrency ?? 20),
      perDomain: new KeyedSemaphore(opts.maxPerDomain ?? 10),
      report: (e) => this.#report(e),
      emit: (e) => this.#emit(e),
      queued: (id) => {
        this.#schedule.due.set(id, 0);
        if (this.#running) this.notify(id);
      },
      alert: (text, fields) => alert(this.#log, text, fields),
      log: this.#log,
    });
  }

  /**
   * Starts the background loop: a pass now, then whenever something is due. While running it
   * holds the spool's runner lease and serves flush requests left by `relay queue flush`.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
    this.#controlDone = this.#control.run(() => this.#running, (r) => this.#serveRequest(r));
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

  /**
   * Stops the loop and waits for deliveries in flight; after `timeout` ms (if given) it cuts
   * the connections still busy, so those recipients are recorded as deferred (and sent again
   * later: at least once).
   */
  async stop(opts: { timeout?: number } = {}): Promise<void> {
    this.#running = false;
    this.#wake?.();
    this.#control.wake();
    await this.#loop;
    await this.#controlDone;
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
    for (const id of this.#held.ids()) await this.#record(id, this.#held.get(id)!);
    if (this.#held.size > 0) {
      alert(
        this.#log,
        `stopping with ${this.#held.size} delivery outcome(s) not recorded in the spool ` +
          `(${this.#held.ids().join(" ")}): they will be delivered again`,
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
    this.#held.drop(id); // an outcome still to record must not bring the message back
    const removed = await this.#delivery.remove(id, opts.bounce ?? false);
    if (removed) this.#schedule.delete(id);
    return removed;
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
    const schedule = this.#schedule;
    while (this.#running) {
      try {
        // A full look at the spool every interval; in between, the in-memory schedule.
        if (this.#now() - schedule.lastScan >= interval) await schedule.scan(this.#o.spool);
        this.#startDue(false);
      } catch (e) {
        this.#log.warn(`queue runner error: ${(e as Error).message}`);
      }
      if (!this.#running) break;
      let next = schedule.nextTime(interval, (id) => this.#inFlight.has(id));
      if (this.#held.size > 0) next = Math.min(next, this.#now() + HELD_RETRY_MS);
      schedule.nextWake = next;
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

  /** Starts delivery of every scheduled message that is due (or all, forced). */
  #startDue(force: boolean, rescan = false): Promise<void>[] {
    if (rescan) {
      // A flush request: look at the whole spool first, then force everything.
      this.#schedule.scan(this.#o.spool).then(
        () => this.#running && this.#startDue(force),
        (e) => this.#log.warn(`queue scan failed: ${(e as Error).message}`),
      );
      return [];
    }
    // While commits fail, only try to record what was delivered; start nothing new.
    const ids = this.#held.size > 0 ? this.#held.ids() : this.#schedule.dueNow(force);
    return ids.map((id) => this.#deliver(id, force));
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
      await this.#schedule.scan(this.#o.spool);
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
    const work = held ? this.#record(id, held) : this.#sendAndRecord(id, force);
    const p = work.then((env) => {
      this.#inFlight.delete(id);
      if (this.#held.has(id)) this.#schedule.set(id, this.#now() + HELD_RETRY_MS);
      else this.#schedule.track(id, env);
    }, (e) => {
      // A spool problem, not a delivery outcome: log it and look again in a minute.
      this.#inFlight.delete(id);
      this.#schedule.due.set(id, this.#now() + 60_000);
      this.#log.warn(`${id} queue error: ${(e as Error).message ?? e}`);
    });
    this.#inFlight.set(id, p);
    return p;
  }

  /** Sends, then records; resolves to the envelope left, or null when the message is gone. */
  async #sendAndRecord(id: string, force: boolean): Promise<Envelope | null> {
    const sent = await this.#delivery.send(id, force);
    if (sent === null || !("events" in sent)) return sent;
    this.#summary.messages++;
    return await this.#record(id, sent);
  }

  /** Commits an outcome, or holds it when the commit fails (see {@linkcode HeldOutcomes}). */
  #record(id: string, outcome: Outcome): Promise<Envelope | null> {
    return this.#held.record(id, outcome);
  }

  /** Logs and counts one outcome: every log line of the queue is written here. */
  #report(e: DeliveryEvent): void {
    countEvent(this.#summary, e);
    logEvent(this.#log, e);
  }

  /**
   * Hands a committed outcome to the `onEvent` hook, asynchronously: a hook that throws or
   * rejects is logged, never fatal, and never delays delivery.
   */
  #emit(e: DeliveryEvent): void {
    const hook = this.#o.onEvent;
    if (!hook) return;
    queueMicrotask(() => {
      try {
        Promise.resolve(hook(e)).catch((err) =>
          this.#log.warn(`event hook failed on ${e.kind} ${e.id}: ${(err as Error).message}`)
        );
      } catch (err) {
        this.#log.warn(`event hook failed on ${e.kind} ${e.id}: ${(err as Error).message}`);
      }
    });
  }
}

/** Adds an outcome to the counts of a pass. */
function countEvent(s: RunSummary, e: DeliveryEvent): void {
  if (e.kind === "delivered") s.delivered++;
  else if (e.kind === "deferred") s.deferred++;
  else if (e.kind === "failed") s.failed++;
  else if (e.kind !== "completed") s.bounces++;
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
