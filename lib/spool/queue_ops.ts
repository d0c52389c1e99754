import type { Envelope } from "../envelope/mod.ts";
import { GroupCommitter, type Mutation } from "./group_commit.ts";
import { KEYS, type Spool } from "./spool.ts";
import { envelopeDeletions } from "./envelope_codec.ts";

/**
 * Removes a finished message in one group commit when its envelope says how many body chunks
 * it has (the queue runner's common case); falls back to {@linkcode Spool.remove} for large
 * messages. `extra` mutations commit with the removal.
 */
export async function removeFinished(
  spool: Spool,
  envelope: Envelope,
  extra: Mutation[] = [],
): Promise<void> {
  const n = envelope.chunks;
  if (!(n >= 0) || n + extra.length + 1 > GroupCommitter.limits.mutations / 2) {
    await spool.remove(envelope.id, extra);
    return;
  }
  const mutations: Mutation[] = envelopeDeletions(envelope);
  if (envelope.headSize) {
    mutations.push({ key: KEYS.head(envelope.id), value: undefined, bytes: 64 });
  }
  for (let i = 0; i < n; i++) {
    mutations.push({ key: KEYS.body(envelope.id, i), value: undefined, bytes: 64 });
  }
  await spool.commit([...mutations, ...extra]);
}
