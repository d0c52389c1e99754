import type { Spool } from "../spool/mod.ts";

/**
 * Coordination between the queue runner inside `relay serve` and one-shot CLI commands on the
 * same spool: the running runner holds a lease (renewed while it runs), and a CLI `queue flush`
 * leaves a request in the spool for it instead of delivering from a second process (which
 * could send a message twice).
 */
const LEASE = ["runner"];
const FLUSH = ["flush"];

/** How long a lease lasts without renewal. */
export const LEASE_MS = 30_000;

/** Who holds the runner lease. */
export interface RunnerLease {
  pid: number;
  hostname: string;
  /** Epoch ms after which the lease is void. */
  until: number;
}

/** Takes or renews the lease for this process. */
export async function holdLease(spool: Spool, now = Date.now()): Promise<void> {
  const lease: RunnerLease = { pid: Deno.pid, hostname: Deno.hostname(), until: now + LEASE_MS };
  await spool.keyspace("queue").set(LEASE, lease);
}

/** Gives the lease up (on stop), if this process holds it. */
export async function releaseLease(spool: Spool): Promise<void> {
  const ks = spool.keyspace("queue");
  const cur = await ks.get<RunnerLease>(LEASE);
  if (cur.value?.pid === Deno.pid) {
    await ks.atomic().check(cur).delete(ks.key(...LEASE)).commit();
  }
}

/** The live lease of a running queue runner (another process's or ours), or null. */
export async function activeRunner(spool: Spool, now = Date.now()): Promise<RunnerLease | null> {
  const cur = (await spool.keyspace("queue").get<RunnerLease>(LEASE)).value;
  return cur && cur.until > now ? cur : null;
}

/** A request from the CLI to the running queue runner. */
export type QueueRequest =
  | { op: "flush"; id: string | null }
  | { op: "remove"; id: string; bounce: boolean };

/**
 * Asks the running queue runner to flush one message (or all, without `id`); it picks the
 * request up within about a second.
 */
export async function requestFlush(spool: Spool, id?: string): Promise<void> {
  await request(spool, { op: "flush", id: id ?? null });
}

/**
 * Asks the running queue runner to remove a message (with a bounce when `bounce`), after
 * any delivery of it in progress has finished.
 */
export async function requestRemove(spool: Spool, id: string, bounce: boolean): Promise<void> {
  await request(spool, { op: "remove", id, bounce });
}

async function request(spool: Spool, req: QueueRequest): Promise<void> {
  // Keys sort by time, so requests are served in the order they were made.
  await spool.keyspace("queue").set([...FLUSH, Date.now(), crypto.randomUUID()], req);
}

/** Takes the pending requests (each is returned once, oldest first). */
export async function takeRequests(spool: Spool): Promise<QueueRequest[]> {
  const out: QueueRequest[] = [];
  const ks = spool.keyspace("queue");
  for await (const e of ks.list<QueueRequest>(FLUSH)) {
    const res = await ks.atomic().check(e).delete(e.key).commit();
    if (res.ok) out.push(e.value);
  }
  return out;
}
