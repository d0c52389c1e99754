/**
 * The durable message store on Deno KV: envelopes, chunked bodies, group commit.
 *
 * @module
 */
export { bodyDigest, BodyMismatchError, type BodyRecord, checkedBody } from "./body_check.ts";
export { SpoolError } from "./errors.ts";
export { FreeSpace, type FreeSpaceChange, statvfsAvailable } from "./free_space.ts";
export { KV_FILE, SpoolDamagedError, verifySpool } from "./integrity.ts";
export { LOCK_FILE, SpoolLock, SpoolLockedError } from "./lock.ts";
export { envelopeDeletions, envelopeMutations, RECIPIENTS_PER_BLOCK } from "./envelope_codec.ts";
export { type Mutation } from "./group_commit.ts";
export { Keyspace, KeyspaceAtomic, type KeyspaceName, KEYSPACES } from "./keyspace.ts";
export { removeFinished } from "./queue_ops.ts";
export { SpoolWriter } from "./spool_writer.ts";
export { CHUNK_SIZE, chunkBody, KEYS, Spool } from "./spool.ts";
