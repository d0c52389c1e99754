import type { Envelope } from "../envelope/mod.ts";
import type { Outcome } from "./delivery.ts";
import type { QueueLog } from "./types.ts";

/**
 * Outcomes of deliveries that were made but could not be committed (a full disk): kept in
 * memory and committed again, never delivered again. While any is held, the runner starts no
 * new delivery. Said once when commits start failing and once when they work again.
 */
export class HeldOutcomes {
  readonly #held = new Map<string, Outcome>();
  readonly #commit: (o: Outcome) => Promise<boolean>;
  readonly #log: QueueLog;
  readonly #recovered: () => void;
  #failing = false;

  /**
   * `commit` records an outcome (true: the message is done); `recovered` runs when the last
   * held outcome was committed.
   */
  constructor(commit: (o: Outcome) => Promise<boolean>, log: QueueLog, recovered: () => void) {
    this.#commit = commit;
    this.#log = log;
    this.#recovered = recovered;
  }

  /** Outcomes waiting for their commit. */
  get size(): number {
    return this.#held.size;
  }

  /** The ids of messages whose outcome waits. */
  ids(): string[] {
    return [...this.#held.keys()];
  }

  /** The outcome waiting for `id`, if any. */
  get(id: string): Outcome | undefined {
    return this.#held.get(id);
  }

  /** Whether an outcome of `id` waits. */
  has(id: string): boolean {
    return this.#held.has(id);
  }

  /** Forgets the outcome of a message that was removed. */
  drop(id: string): void {
    this.#held.delete(id);
    this.#maybeRecovered();
  }

  /**
   * Commits an outcome; when the commit fails it is held and committed again later. Resolves
   * to the envelope left, or null when the message is done.
   */
  async record(id: string, outcome: Outcome): Promise<Envelope | null> {
    try {
      const done = await this.#commit(outcome);
      this.#held.delete(id);
      this.#maybeRecovered();
      return done ? null : outcome.env;
    } catch (e) {
      this.#held.set(id, outcome);
      if (!this.#failing) {
        this.#failing = true;
        alert(
          this.#log,
          `cannot record delivery outcomes (${(e as Error).message}): keeping them in memory ` +
            `and retrying the commit every second; no new deliveries until the spool can be ` +
            `written (is its disk full?)`,
          { event: "spool_unwritable", id },
        );
      }
      return outcome.env;
    }
  }

  #maybeRecovered(): void {
    if (this.#held.size > 0 || !this.#failing) return;
    this.#failing = false;
    this.#recovered();
    this.#log.info("spool commits work again: delivery outcomes recorded, deliveries resume", {
      event: "spool_writable",
    });
  }
}

/** An alert line (error level when the log has one). */
export function alert(log: QueueLog, text: string, fields?: Record<string, unknown>): void {
  if (log.error) log.error(text, fields);
  else log.warn(text, fields);
}
