import type { Spool } from "../spool/mod.ts";
import { holdLease, LEASE_MS, type QueueRequest, releaseLease, takeRequests } from "./control.ts";
import type { QueueLog } from "./log_lines.ts";

/**
 * The runner's side of the control path: while `running()` holds, renews the spool's runner
 * lease and hands each CLI request (flush, remove) to `serve`, about once a second or at once
 * after `wake()`. Requests are plain data, so the runner may live in another thread.
 */
export class ControlLoop {
  readonly #spool: Spool;
  readonly #log: QueueLog;
  #wake: (() => void) | null = null;

  /** Keeps what the loop needs. */
  constructor(spool: Spool, log: QueueLog) {
    this.#spool = spool;
    this.#log = log;
  }

  /** Runs until `running()` is false, then gives the lease up. */
  async run(running: () => boolean, serve: (req: QueueRequest) => void): Promise<void> {
    let renewed = 0;
    let failing = false; // said once per state change, not every second (a full disk)
    while (running()) {
      try {
        if (Date.now() - renewed > LEASE_MS / 3) {
          await holdLease(this.#spool);
          renewed = Date.now();
        }
        for (const req of await takeRequests(this.#spool)) serve(req);
        if (failing) this.#log.info("queue control works again");
        failing = false;
      } catch (e) {
        if (!failing) this.#log.warn(`queue control error: ${(e as Error).message}`);
        failing = true;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
    await releaseLease(this.#spool).catch(() => {});
  }

  /** Ends the current wait early (on stop). */
  wake(): void {
    this.#wake?.();
  }
}
