import { activeRunner, requestFlush, requestRemove } from "./control.ts";
import { createQueueRunner, type DeliverySettings, type QueueDeps } from "./from_config.ts";
import type { RunSummary } from "./types.ts";

/** What an admin command did: handed to the running relay, or done here. */
export type AdminOutcome =
  | { handedTo: { pid: number; hostname: string } }
  | { summary: RunSummary }
  | { removed: boolean };

/**
 * `relay queue flush [ID]` and `relay queue run --once`: when `relay serve` runs on this spool,
 * the request goes to its runner (no second process ever delivers the same message); otherwise
 * a runner here does one pass (`force`: every undelivered recipient now, ignoring retry times
 * and host waits; else only what is due) and stops. `owner`: this process holds the spool's
 * lock, so no runner elsewhere can be live and a lease left by a killed one is ignored.
 */
export async function runQueue(
  settings: DeliverySettings,
  deps: QueueDeps,
  opts: { id?: string; force?: boolean; owner?: boolean } = {},
): Promise<AdminOutcome> {
  const lease = opts.owner ? null : await activeRunner(deps.spool);
  if (lease) {
    await requestFlush(deps.spool, opts.id);
    return { handedTo: { pid: lease.pid, hostname: lease.hostname } };
  }
  const runner = createQueueRunner(settings, deps);
  try {
    const summary = opts.id !== undefined
      ? await runner.flush(opts.id)
      : opts.force
      ? await runner.flush()
      : await runner.runOnce();
    return { summary };
  } finally {
    await runner.stop();
  }
}

/**
 * `relay queue remove ID [--bounce]`: through the running relay when there is one (after any
 * delivery of the message in progress), else here. `owner` as for {@linkcode runQueue}.
 */
export async function removeQueued(
  settings: DeliverySettings,
  deps: QueueDeps,
  id: string,
  bounce: boolean,
  opts: { owner?: boolean } = {},
): Promise<AdminOutcome> {
  const lease = opts.owner ? null : await activeRunner(deps.spool);
  if (lease) {
    await requestRemove(deps.spool, id, bounce);
    return { handedTo: { pid: lease.pid, hostname: lease.hostname } };
  }
  const runner = createQueueRunner(settings, deps);
  try {
    return { removed: await runner.remove(id, { bounce }) };
  } finally {
    await runner.stop();
  }
}
