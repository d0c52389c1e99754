import { decodeEnvelope, encodeEnvelope, type Envelope, type Recipient } from "../envelope/mod.ts";
import type { Mutation } from "./group_commit.ts";

/**
 * Recipients kept inside the envelope value, and per extra block. Deno KV caps a value at
 * 64 KiB; 50 recipients with the longest addresses and ORCPTs stay well under it, so a
 * message may have as many recipients as `max_recipients` allows.
 */
export const RECIPIENTS_PER_BLOCK = 50;

/** Keys of an envelope: the head, and blocks of further recipients. */
export const ENVELOPE_KEYS = {
  head: (id: string): Deno.KvKey => ["msg", id],
  block: (id: string, n: number): Deno.KvKey => ["rcpt", id, n],
  blockPrefix: (id: string): Deno.KvKey => ["rcpt", id],
} as const;

/** The stored head: the envelope with its first recipients and the count of blocks. */
export type EnvelopeHead = Envelope & { recipientBlocks?: number };

/**
 * The writes that store an envelope (a head, plus blocks when it has many recipients).
 * Recipients never grow after a message is stored, so rewriting it touches the same keys.
 */
export function envelopeMutations(env: Envelope): Mutation[] {
  const rest = env.recipients.slice(RECIPIENTS_PER_BLOCK);
  const blocks: Recipient[][] = [];
  for (let i = 0; i < rest.length; i += RECIPIENTS_PER_BLOCK) {
    blocks.push(rest.slice(i, i + RECIPIENTS_PER_BLOCK));
  }
  const head: EnvelopeHead = encodeEnvelope({
    ...env,
    recipients: env.recipients.slice(0, RECIPIENTS_PER_BLOCK),
  });
  if (blocks.length > 0) head.recipientBlocks = blocks.length;
  return [
    { key: ENVELOPE_KEYS.head(env.id), value: head, bytes: JSON.stringify(head).length + 64 },
    ...blocks.map((b, n): Mutation => ({
      key: ENVELOPE_KEYS.block(env.id, n),
      value: b,
      bytes: JSON.stringify(b).length + 64,
    })),
  ];
}

/** The writes that delete an envelope stored by {@linkcode envelopeMutations}. */
export function envelopeDeletions(head: EnvelopeHead | Envelope): Mutation[] {
  const n = (head as EnvelopeHead).recipientBlocks ??
    Math.max(0, Math.ceil((head.recipients.length - RECIPIENTS_PER_BLOCK) / RECIPIENTS_PER_BLOCK));
  return [
    { key: ENVELOPE_KEYS.head(head.id), value: undefined, bytes: 64 },
    ...Array.from({ length: n }, (_, i): Mutation => ({
      key: ENVELOPE_KEYS.block(head.id, i),
      value: undefined,
      bytes: 64,
    })),
  ];
}

/** Reassembles an envelope from its head, reading the recipient blocks when it has any. */
export async function readEnvelope(
  kv: Deno.Kv,
  head: EnvelopeHead | null,
): Promise<Envelope | null> {
  if (!head) return null;
  const { recipientBlocks, ...env } = decodeEnvelope(
    head,
    `spool message ${head.id}`,
  ) as EnvelopeHead;
  if (!recipientBlocks) return env;
  const recipients = [...env.recipients];
  for await (const e of kv.list<Recipient[]>({ prefix: ENVELOPE_KEYS.blockPrefix(env.id) })) {
    recipients.push(...e.value);
  }
  return { ...env, recipients };
}
