import { buildDsn, type DsnAction, type ReportedRecipient, wantsNotice } from "../bounce/mod.ts";
import type { Mutation, Spool } from "../spool/mod.ts";
import type { Envelope } from "../envelope/mod.ts";

/** The KV key that records a delay warning was sent for a message. */
export const warnedKey = (spool: Spool, id: string): Deno.KvKey =>
  spool.keyspace("queue").key("warned", id);

/**
 * Puts a DSN (bounce or delay warning) for some recipients into the spool as a new message
 * from `<>`. The `extra` writes (the original's new state, the warned mark) commit in the
 * same atomic operation, so a crash can neither lose the notice nor send it twice.
 *
 * @returns the new message's id
 */
export async function queueNotice(
  spool: Spool,
  env: Envelope,
  recipients: ReportedRecipient[],
  opts: {
    action: DsnAction;
    hostname: string;
    now: number;
    extra: Mutation[];
    willRetryUntil?: number;
  },
): Promise<string> {
  const { envelope, body } = buildDsn({
    envelope: env,
    recipients,
    action: opts.action,
    hostname: opts.hostname,
    // A damaged original (a frozen message removed with a bounce) still lets the notice go.
    original: await spool.readBody(env.id, { unchecked: true }),
    now: new Date(opts.now),
    willRetryUntil: opts.willRetryUntil ? new Date(opts.willRetryUntil) : undefined,
  });
  await spool.store(envelope, [body], opts.extra);
  return envelope.id;
}

/**
 * The recipients a delay warning should go out for now (RFC 3464 "delayed"): the message is
 * older than `after`, they are deferred and asked for (or default to) DELAY notices, and no
 * warning was sent before. Empty when none.
 */
export async function dueForWarning(
  spool: Spool,
  env: Envelope,
  after: number,
  now: number,
): Promise<ReportedRecipient[]> {
  if (after <= 0 || now - env.received < after) return [];
  const waiting = env.recipients.filter((r) =>
    r.status === "deferred" && wantsNotice(env, r, "delayed")
  );
  if (waiting.length === 0) return [];
  if ((await spool.keyspace("queue").get(["warned", env.id])).value) return [];
  return waiting.map((r) => ({
    recipient: r,
    result: { address: r.address, status: "deferred", diagnostic: r.lastError ?? "deferred" },
  }));
}
