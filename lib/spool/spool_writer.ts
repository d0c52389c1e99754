import { createHash } from "node:crypto";
import type { Envelope } from "../envelope/mod.ts";
import { envelopeMutations } from "./envelope_codec.ts";
import { GroupCommitter, type Mutation } from "./group_commit.ts";
import { SpoolError } from "./errors.ts";
import { CHUNK_SIZE, KEYS, type Spool } from "./spool.ts";

/**
 * Full chunks held in memory before the body goes to the spool ahead of its envelope (a body
 * of up to this many chunks commits once, with its envelope), and the most a writer holds
 * while a commit of earlier chunks runs: the session waits for {@linkcode SpoolWriter.drain}.
 */
const HELD_CHUNKS = 2;

/** Where a writer stands. */
type WriterState = "open" | "stored" | "dropped";

/**
 * Streams a message body into the spool as it arrives, so that a session holds a few chunks
 * whatever the message size. A small body stays in memory and is committed with its envelope
 * in one atomic write; past {@linkcode HELD_CHUNKS} full chunks the writer marks the message
 * `["partial", id]` and commits chunks while the client sends more. The envelope and the
 * head record (the header fields the relay adds in front of the body) come last, in
 * {@linkcode SpoolWriter.finish}: the message exists only then. {@linkcode SpoolWriter.drop}
 * removes what was written (refused or aborted message). Past `max` bytes nothing more is
 * kept (the session reads on to the end and refuses with 552) and the partial is dropped.
 */
export class SpoolWriter {
  /** The message id the chunks are written under. */
  readonly id: string;
  /** Bytes written so far (including any past the maximum). */
  size = 0;
  #spool: Spool;
  #max: number;
  #hash = createHash("sha256");
  #first: Uint8Array | null = null; // chunk 0, kept for the header section
  #held: Uint8Array[] = []; // full chunks not yet committed
  #current = new Uint8Array(16 * 1024); // grows to CHUNK_SIZE: most bodies are small
  #used = 0;
  #committed = 0; // chunks 0 .. committed-1 are on disk
  #streaming = false; // the partial marker is (being) written
  #inflight: Promise<void> | null = null;
  #error: unknown = null;
  #state: WriterState = "open";

  /** A writer for message `id` keeping at most `max` bytes. */
  constructor(spool: Spool, id: string, max: number = Infinity) {
    this.#spool = spool;
    this.id = id;
    this.#max = max;
  }

  /** Went past the maximum size. */
  get tooBig(): boolean {
    return this.size > this.#max;
  }

  /** The writer holds as many chunks as it may while a commit runs: await {@linkcode drain}. */
  get backlogged(): boolean {
    return this.#inflight !== null && this.#held.length >= HELD_CHUNKS;
  }

  /** Appends bytes (copied; `piece` may be a view into a reused buffer). */
  write(piece: Uint8Array): void {
    this.size += piece.length;
    if (this.#state !== "open") return;
    if (this.tooBig || this.#error) {
      this.#release();
      if (this.#streaming) this.drop();
      return;
    }
    let off = 0;
    while (off < piece.length) {
      if (this.#used === this.#current.length && this.#current.length < CHUNK_SIZE) {
        const grown = new Uint8Array(Math.min(CHUNK_SIZE, this.#current.length * 4));
        grown.set(this.#current.subarray(0, this.#used));
        this.#current = grown;
      }
      const n = Math.min(this.#current.length - this.#used, piece.length - off);
      this.#current.set(piece.subarray(off, off + n), this.#used);
      this.#used += n;
      off += n;
      if (this.#used === CHUNK_SIZE) {
        this.#hash.update(this.#current);
        this.#first ??= this.#current;
        this.#held.push(this.#current);
        this.#current = new Uint8Array(CHUNK_SIZE);
        this.#used = 0;
      }
    }
    if (this.#held.length >= HELD_CHUNKS && this.#inflight === null) this.#commitHeld();
  }

  /** Waits until the writer may take more input (a commit of held chunks has finished). */
  async drain(): Promise<void> {
    while (this.backlogged) await this.#inflight;
  }

  /** The first bytes of the body (at least its first chunk when it has one), for headers. */
  start(): Uint8Array {
    return this.#first ?? this.#current.subarray(0, this.#used);
  }

  /**
   * Yields the body written so far, in order: chunks already on disk are read back from the
   * spool one at a time, the rest come from memory. For checks that need the whole message
   * (DKIM, ARC) without holding it.
   */
  async *read(): AsyncGenerator<Uint8Array> {
    while (this.#inflight) await this.#inflight;
    if (this.#error) throw this.#failure();
    const committed = this.#committed;
    if (committed > 0) {
      const list = this.#spool.kv.list<Uint8Array>(
        { start: KEYS.body(this.id, 0), end: KEYS.body(this.id, committed) },
        { batchSize: 2 },
      );
      for await (const e of list) yield e.value;
    }
    for (const c of this.#held) yield c;
    if (this.#used > 0) yield this.#current.subarray(0, this.#used);
  }

  /**
   * Commits the message: the chunks not yet on disk, the head record (header fields added in
   * front of the body, may be empty), then the envelope with `extra` mutations. Sets the
   * envelope's `size` (head and body), `chunks`, `headSize` and `bodySha256`. Resolves when
   * the envelope is durable; the caller may then say 250.
   *
   * @throws {SpoolError} When a write failed (the partial is then dropped).
   */
  async finish(envelope: Envelope, head: Uint8Array, extra: Mutation[] = []): Promise<void> {
    if (this.#state !== "open" || this.tooBig) {
      throw new SpoolError(`Cannot store message ${this.id}: its body was dropped`);
    }
    while (this.#inflight) await this.#inflight;
    if (this.#error) {
      const e = this.#failure();
      this.drop();
      throw e;
    }
    const rest = [...this.#held];
    if (this.#used > 0) {
      const last = this.#current.subarray(0, this.#used);
      this.#hash.update(last);
      rest.push(last);
    }
    const id = this.id;
    const first = this.#committed;
    envelope.chunks = first + rest.length;
    envelope.size = head.length + this.size;
    envelope.headSize = head.length;
    envelope.bodySha256 = this.#hash.digest("hex");
    const chunkMutations = rest.map((c, i): Mutation => ({
      key: KEYS.body(id, first + i),
      value: c,
      bytes: c.length + 64,
    }));
    const final: Mutation[] = [...envelopeMutations(envelope), ...extra];
    if (head.length > 0) {
      final.push({ key: KEYS.head(id), value: head, bytes: head.length + 64 });
    }
    const { mutations: maxN, bytes: maxB } = GroupCommitter.limits;
    const bytes = [...chunkMutations, ...final].reduce((n, m) => n + m.bytes, 0);
    const fits = chunkMutations.length + final.length + 1 <= maxN && bytes <= maxB;
    const unmark: Mutation = { key: KEYS.partial(id), value: undefined, bytes: 64 };
    try {
      if (!fits) {
        const mark: Mutation[] = this.#streaming
          ? []
          : [{ key: KEYS.partial(id), value: Date.now(), bytes: 64 }];
        this.#streaming = true;
        for (const m of chunkMutations) await this.#spool.commit([...mark.splice(0), m]);
        await this.#spool.commit(this.#streaming ? [...final, unmark] : final);
      } else {
        await this.#spool.commit([
          ...chunkMutations,
          ...final,
          ...(this.#streaming ? [unmark] : []),
        ]);
      }
    } catch (e) {
      this.drop();
      throw new SpoolError(`Cannot store message ${id}: ${(e as Error).message}`, { cause: e });
    }
    this.#state = "stored";
    this.#release();
  }

  /**
   * Drops the message: memory at once, and chunks already written (with the partial marker)
   * in the background. Does nothing once stored or dropped.
   */
  drop(): void {
    if (this.#state !== "open") return;
    this.#state = "dropped";
    this.#release();
    if (!this.#streaming) return;
    const inflight = this.#inflight ?? Promise.resolve();
    inflight.then(() => this.#spool.dropPartial(this.id)).catch(() => {
      // left for the clean-up at the next start (the partial marker is there)
    });
  }

  #release(): void {
    this.#held = [];
    this.#first = null;
    this.#current = new Uint8Array(0);
    this.#used = 0;
  }

  #failure(): SpoolError {
    const e = this.#error as Error;
    return new SpoolError(`Cannot store message ${this.id}: ${e.message}`, { cause: e });
  }

  #commitHeld(): void {
    const batch = this.#held;
    this.#held = [];
    const base = this.#committed;
    const mutations: Mutation[] = batch.map((c, i) => ({
      key: KEYS.body(this.id, base + i),
      value: c,
      bytes: c.length + 64,
    }));
    if (!this.#streaming) {
      mutations.unshift({ key: KEYS.partial(this.id), value: Date.now(), bytes: 64 });
      this.#streaming = true;
    }
    this.#inflight = this.#spool.commit(mutations).then(
      () => {
        this.#committed += batch.length;
        this.#inflight = null;
        if (this.#state === "open" && this.#held.length >= HELD_CHUNKS) this.#commitHeld();
      },
      (e) => {
        this.#error ??= e;
        this.#inflight = null;
        this.#held = [];
      },
    );
  }
}
