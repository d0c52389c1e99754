import type { Envelope } from "../envelope/mod.ts";
import type { Spool } from "../spool/mod.ts";

/**
 * When each queued message next needs attention (Postfix's qmgr keeps this apart from how
 * mail is sent): rebuilt from the spool by a full scan every interval, kept up to date in
 * memory after each delivery in between.
 */
export class QueueSchedule {
  /** Message id to the earliest time it is due. */
  readonly due: Map<string, number> = new Map();
  /** When the last full scan ran. */
  lastScan = -Infinity;
  /** When the loop will next wake (for {@linkcode QueueSchedule.set} to wake it earlier). */
  nextWake = Infinity;
  readonly #now: () => number;
  readonly #wake: () => void;

  /** `wake` is called when something becomes due before the loop's next wake-up. */
  constructor(now: () => number, wake: () => void) {
    this.#now = now;
    this.#wake = wake;
  }

  /** Rebuilds the schedule from the spool. */
  async scan(spool: Spool): Promise<void> {
    const fresh = new Map<string, number>();
    for await (const env of spool.list()) fresh.set(env.id, dueAt(env));
    this.due.clear();
    for (const [id, at] of fresh) this.due.set(id, at);
    this.lastScan = this.#now();
  }

  /** Schedules `id` at `at`, waking the loop when that is earlier than planned. */
  set(id: string, at: number): void {
    this.due.set(id, at);
    if (at < this.nextWake) this.#wake();
  }

  /** Keeps the schedule up to date after a delivery (null: the message is gone). */
  track(id: string, env: Envelope | null): void {
    if (!env) this.due.delete(id);
    else this.set(id, dueAt(env));
  }

  /** Forgets a message. */
  delete(id: string): void {
    this.due.delete(id);
  }

  /** The ids due now (or all, forced). */
  dueNow(force: boolean): string[] {
    const now = this.#now();
    const ids: string[] = [];
    for (const [id, at] of this.due) if (force || at <= now) ids.push(id);
    return ids;
  }

  /** The next time the loop must wake: the next scan, or the earliest due message not busy. */
  nextTime(interval: number, busy: (id: string) => boolean): number {
    let next = this.lastScan + interval;
    for (const [id, at] of this.due) if (!busy(id)) next = Math.min(next, at);
    return next;
  }
}

/**
 * When a message next needs attention: its earliest open recipient, or now when all are done;
 * never for a frozen message.
 */
export function dueAt(env: Envelope): number {
  if (env.frozen) return Infinity;
  let at = Infinity;
  for (const r of env.recipients) {
    if (r.status === "pending" || r.status === "deferred") at = Math.min(at, r.nextAttempt);
  }
  return at === Infinity ? 0 : at;
}
