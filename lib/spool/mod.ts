/**
 * The durable message store on Deno KV: envelopes, chunked bodies, group commit.
 *
 * @module
 */
export * from "./envelope.ts";
export { BodyWriter } from "./body_writer.ts";
export { SpoolError } from "./errors.ts";
export { envelopeDeletions, envelopeMutations, RECIPIENTS_PER_BLOCK } from "./envelope_codec.ts";
export { type Mutation } from "./group_commit.ts";
export { isMessageId, newMessageId } from "./message_id.ts";
export { removeFinished } from "./queue_ops.ts";
export { SpoolWriter } from "./spool_writer.ts";
export { CHUNK_SIZE, chunkBody, KEYS, Spool } from "./spool.ts";
