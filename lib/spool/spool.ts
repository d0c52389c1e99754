import type { Envelope } from "../envelope/mod.ts";
import { GroupCommitter, type Mutation } from "./group_commit.ts";
import { SpoolError } from "./errors.ts";
import { Keyspace, type KeyspaceName } from "./keyspace.ts";
import { bodyDigest, type BodyRecord, checkedBody } from "./body_check.ts";
import {
  envelopeDeletions,
  type EnvelopeHead,
  envelopeMutations,
  readEnvelope,
} from "./envelope_codec.ts";

/** Body chunks stay below Deno KV's 64 KiB value cap. */
export const CHUNK_SIZE = 60 * 1024;

/**
 * Key layout (all under one Deno KV database):
 * - `["msg", id]`: the {@linkcode Envelope} (its first 50 recipients); its presence makes the
 *   message exist. `["rcpt", id, n]`: further recipients, 50 a block (envelope_codec.ts).
 * - `["body", id, n]`: body chunk n (Uint8Array, at most {@linkcode CHUNK_SIZE} bytes), the
 *   message as received. `["body", id, -1]`: the head record, header fields the relay added in
 *   front of it (Received, Authentication-Results, ARC set, DKIM-Signature); it sorts first.
 * - `["partial", id]`: a message whose chunks are being written or removed in several
 *   commits; cleaned away on start-up unless `["msg", id]` exists.
 */
export const KEYS = {
  msg: (id: string): Deno.KvKey => ["msg", id],
  body: (id: string, n: number): Deno.KvKey => ["body", id, n],
  head: (id: string): Deno.KvKey => ["body", id, -1],
  bodyPrefix: (id: string): Deno.KvKey => ["body", id],
  partial: (id: string): Deno.KvKey => ["partial", id],
} as const;

/** Splits a body given as pieces into chunks of at most {@linkcode CHUNK_SIZE} bytes. */
export function chunkBody(pieces: Uint8Array[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let current = new Uint8Array(CHUNK_SIZE);
  let used = 0;
  for (const piece of pieces) {
    let off = 0;
    while (off < piece.length) {
      const n = Math.min(CHUNK_SIZE - used, piece.length - off);
      current.set(piece.subarray(off, off + n), used);
      used += n;
      off += n;
      if (used === CHUNK_SIZE) {
        chunks.push(current);
        current = new Uint8Array(CHUNK_SIZE);
        used = 0;
      }
    }
  }
  if (used > 0) chunks.push(current.slice(0, used));
  return chunks;
}

/**
 * The durable message store. A message exists once its envelope is committed; {@linkcode
 * Spool.store} resolves only after that commit is on disk, so the caller may then say 250.
 *
 * @example Usage
 * ```ts
 * const spool = await Spool.open(":memory:");
 * await spool.store(envelope, [body]);
 * ```
 */
export class Spool {
  /** The underlying KV database: only lib/spool uses it; other areas hold a {@linkcode Keyspace}. */
  readonly kv: Deno.Kv;
  /** The database file (`<dir>/spool.kv`), or `:memory:`; errors name it. */
  readonly path: string;
  #committer: GroupCommitter;
  #halfWritten = new Set<string>();

  private constructor(kv: Deno.Kv, path: string) {
    this.kv = kv;
    this.path = path;
    this.#committer = new GroupCommitter(kv, path);
  }

  /**
   * Opens (creating if needed) the spool in a folder, or in memory with `:memory:`.
   * The KV file is `<dir>/spool.kv`. The folder is created mode 0700 and the database files
   * (`spool.kv`, `-wal`, `-shm`) are kept mode 0600: they hold the mail.
   */
  static async open(dir: string): Promise<Spool> {
    if (dir === ":memory:") return new Spool(await Deno.openKv(":memory:"), ":memory:");
    const path = `${dir}/spool.kv`;
    const umask = setUmask(0o077);
    try {
      try {
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      } catch (e) {
        throw new SpoolError(`Cannot create spool folder ${dir}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      try {
        const kv = await Deno.openKv(path);
        await keepPrivate(path);
        return new Spool(kv, path);
      } catch (e) {
        throw new SpoolError(`Cannot open spool ${path}: ${(e as Error).message}`, { cause: e });
      }
    } finally {
      if (umask !== null) setUmask(umask);
    }
  }

  /** The part of the KV that `name`'s owner keeps (see {@linkcode KEYSPACES}). */
  keyspace(name: KeyspaceName): Keyspace {
    return new Keyspace(this.kv, name);
  }

  /** Commits several writes atomically, grouped with concurrent commits. */
  commit(mutations: Mutation[]): Promise<void> {
    return this.#committer.submit(mutations);
  }

  /**
   * Stores a message durably: body chunks and envelope. Small messages go in one atomic
   * commit with the envelope; large ones write their chunks first under a `partial` marker.
   * `extra` mutations (for example queue index entries) commit together with the envelope.
   * `body` may be any pieces; pieces already cut at {@linkcode CHUNK_SIZE} are stored as is.
   */
  async store(envelope: Envelope, body: Uint8Array[], extra: Mutation[] = []): Promise<void> {
    const chunked = body.every((c, i) =>
      i === body.length - 1 ? c.length <= CHUNK_SIZE : c.length === CHUNK_SIZE
    );
    const chunks = chunked ? body : chunkBody(body);
    envelope.chunks = chunks.length;
    envelope.size = chunks.reduce((n, c) => n + c.length, 0);
    envelope.bodySha256 = bodyDigest(chunks);
    const id = envelope.id;
    const final: Mutation[] = [...envelopeMutations(envelope), ...extra];
    const envBytes = final.reduce((n, m) => n + m.bytes, 0);
    const chunkMutations = chunks.map((c, n): Mutation => ({
      key: KEYS.body(id, n),
      value: c,
      bytes: c.length + 64,
    }));
    const { mutations: maxN, bytes: maxB } = GroupCommitter.limits;
    const totalBytes = envBytes + chunkMutations.reduce((n, m) => n + m.bytes, 0);
    if (chunkMutations.length + final.length <= maxN && totalBytes <= maxB) {
      await this.commit([...chunkMutations, ...final]);
      if (this.#halfWritten.size > 0) await this.#cleanHalfWritten();
      return;
    }
    // Large message: mark partial, write chunks in batches, then the envelope.
    await this.commit([{ key: KEYS.partial(id), value: Date.now(), bytes: 64 }]);
    try {
      let batch: Mutation[] = [];
      let bytes = 0;
      for (const m of chunkMutations) {
        if (batch.length > 0 && (batch.length + 1 > maxN || bytes + m.bytes > maxB)) {
          await this.commit(batch);
          batch = [];
          bytes = 0;
        }
        batch.push(m);
        bytes += m.bytes;
      }
      if (batch.length > 0) await this.commit(batch);
      await this.commit([...final, { key: KEYS.partial(id), value: undefined, bytes: 64 }]);
    } catch (e) {
      // A failed commit (a full disk) must not leave the chunks written so far until the next
      // start: remove them now, or after the next commit that works.
      this.#halfWritten.add(id);
      await this.#cleanHalfWritten();
      throw e;
    }
    if (this.#halfWritten.size > 0) await this.#cleanHalfWritten();
  }

  /** Removes the chunks of stores that failed half-way; keeps those it cannot remove yet. */
  async #cleanHalfWritten(): Promise<void> {
    for (const id of [...this.#halfWritten]) {
      try {
        await this.#removeChunks(id);
        this.#halfWritten.delete(id);
      } catch { /* still no room: tried again after the next store, else at start-up */ }
    }
  }

  /** Reads an envelope, or null when there is no such message. */
  async get(id: string): Promise<Envelope | null> {
    try {
      return await readEnvelope(this.kv, (await this.kv.get<EnvelopeHead>(KEYS.msg(id))).value);
    } catch (e) {
      throw this.#readError(e);
    }
  }

  /** A read that failed (a damaged database file), as an error naming the file. */
  #readError(e: unknown): SpoolError {
    if (e instanceof SpoolError) return e;
    return new SpoolError(`Cannot read the spool ${this.path}: ${(e as Error)?.message ?? e}`, {
      cause: e,
    });
  }

  /** Removes the chunks of a message that was never stored (refused or aborted mid-body). */
  async dropPartial(id: string): Promise<void> {
    if (await this.get(id)) return;
    await this.#removeChunks(id);
  }

  /**
   * Yields the body chunks of a message in order, checked against what its envelope recorded
   * at commit (chunk count, size, SHA-256): missing chunks throw a `BodyMismatchError` rather
   * than end the body early. `record` is the envelope when the caller has it (else it is
   * read); `{ unchecked: true }` yields whatever is stored (for `queue show`).
   */
  async *body(
    id: string,
    record?: BodyRecord | { unchecked: true },
  ): AsyncGenerator<Uint8Array> {
    // A few chunks a batch: a large body is never held whole.
    const entries = this.kv.list<Uint8Array>({ prefix: KEYS.bodyPrefix(id) }, { batchSize: 4 });
    if (record && "unchecked" in record) {
      for await (const e of entries) yield e.value;
      return;
    }
    const env = record ?? await this.get(id);
    if (!env) throw new SpoolError(`No message ${id} in the spool ${this.path}`);
    yield* checkedBody(entries, env);
  }

  /** Reads a whole body into one array (checked as {@linkcode Spool.body} does). */
  async readBody(id: string, record?: BodyRecord | { unchecked: true }): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of this.body(id, record)) parts.push(c);
    const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of parts) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** Yields every envelope, oldest first (ids sort by arrival). */
  async *list(): AsyncGenerator<Envelope> {
    const it = this.kv.list<EnvelopeHead>({ prefix: ["msg"] });
    for (;;) {
      let env: Envelope;
      try {
        const next = await it.next();
        if (next.done) return;
        env = (await readEnvelope(this.kv, next.value.value))!;
      } catch (e) {
        throw this.#readError(e);
      }
      yield env;
    }
  }

  /** Replaces an envelope (for delivery state); `extra` commits atomically with it. */
  async update(envelope: Envelope, extra: Mutation[] = []): Promise<void> {
    await this.commit([...envelopeMutations(envelope), ...extra]);
  }

  /**
   * Removes a message and its body. Returns false when it did not exist. `extra` mutations
   * (queue index deletions) commit together with the envelope's removal.
   */
  async remove(id: string, extra: Mutation[] = []): Promise<boolean> {
    const env = await this.get(id);
    if (!env) return false;
    await this.commit([
      ...envelopeDeletions(env),
      { key: KEYS.partial(id), value: Date.now(), bytes: 64 },
      ...extra,
    ]);
    await this.#removeChunks(id);
    return true;
  }

  async #removeChunks(id: string): Promise<void> {
    let batch: Mutation[] = [];
    const list = this.kv.list({ prefix: KEYS.bodyPrefix(id) }, { batchSize: 8 });
    for await (const e of list) {
      batch.push({ key: e.key, value: undefined, bytes: 64 });
      if (batch.length >= 500) {
        await this.commit(batch);
        batch = [];
      }
    }
    batch.push({ key: KEYS.partial(id), value: undefined, bytes: 64 });
    await this.commit(batch);
  }

  /**
   * Removes what a crash left half-written: chunks of messages under a `partial` marker whose
   * envelope was never committed (or was being removed). Run before accepting mail.
   *
   * @returns the ids cleaned
   */
  async cleanOrphans(): Promise<string[]> {
    const cleaned: string[] = [];
    for await (const e of this.kv.list<number>({ prefix: ["partial"] })) {
      const id = e.key[1] as string;
      if (await this.get(id)) {
        await this.commit([{ key: e.key, value: undefined, bytes: 64 }]);
      } else {
        await this.#removeChunks(id);
        cleaned.push(id);
      }
    }
    return cleaned;
  }

  /** Closes the database. */
  close(): void {
    this.kv.close();
  }
}

/** Sets the process umask, returning the old one (null where the platform has none). */
function setUmask(mask: number): number | null {
  try {
    return Deno.umask(mask);
  } catch {
    return null;
  }
}

/** Mode 0600 for the database and its SQLite companions (spools made by older versions). */
async function keepPrivate(path: string): Promise<void> {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (((await Deno.stat(f)).mode ?? 0) & 0o077) await Deno.chmod(f, 0o600);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}
