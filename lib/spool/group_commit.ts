import { SpoolError } from "./errors.ts";

/** One KV write in a batch. */
export interface Mutation {
  key: Deno.KvKey;
  /** The value to set; `undefined` deletes the key. */
  value: unknown;
  /** Bytes this write adds to a batch, for the batch-size cap. */
  bytes: number;
}

interface Pending {
  mutations: Mutation[];
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Deno KV caps an atomic operation; stay below both limits with room to spare. */
const MAX_MUTATIONS = 900;
const MAX_BYTES = 780 * 1024;

/**
 * Group commit over Deno KV: whatever is submitted while a commit runs goes into the next
 * atomic operation together, so many sessions share one fsync. No timer is involved: a lone
 * submit commits at once. Each submission is all-or-nothing: its mutations are never split
 * across two atomic operations.
 */
export class GroupCommitter {
  #kv: Deno.Kv;
  #label: string;
  #queue: Pending[] = [];
  #running = false;

  /** Creates a committer over an open KV database; `label` (its file) names it in errors. */
  constructor(kv: Deno.Kv, label = "") {
    this.#kv = kv;
    this.#label = label;
  }

  #failed(e: unknown): SpoolError {
    const where = this.#label ? ` (${this.#label})` : "";
    return new SpoolError(`Spool commit failed${where}: ${(e as Error)?.message ?? e}`, {
      cause: e,
    });
  }

  /** Largest submission, in mutations and bytes, that fits one atomic operation. */
  static readonly limits = { mutations: MAX_MUTATIONS, bytes: MAX_BYTES };

  /**
   * Commits the mutations durably, together with other concurrent submissions.
   *
   * @returns a promise that settles once the mutations are on disk
   */
  submit(mutations: Mutation[]): Promise<void> {
    const bytes = mutations.reduce((n, m) => n + m.bytes, 0);
    if (mutations.length > MAX_MUTATIONS || bytes > MAX_BYTES) {
      return Promise.reject(
        new SpoolError(`Cannot commit ${mutations.length} writes of ${bytes} bytes in one batch`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ mutations, bytes, resolve, reject });
      if (!this.#running) this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        try {
          await this.#commit(batch);
          for (const p of batch) p.resolve();
        } catch (e) {
          if (batch.length === 1) {
            batch[0].reject(this.#failed(e));
          } else {
            // Commit one by one so a single bad submission fails alone.
            for (const p of batch) {
              try {
                await this.#commit([p]);
                p.resolve();
              } catch (e2) {
                p.reject(this.#failed(e2));
              }
            }
          }
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let n = 0;
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      if (
        batch.length > 0 &&
        (n + next.mutations.length > MAX_MUTATIONS || bytes + next.bytes > MAX_BYTES)
      ) break;
      batch.push(this.#queue.shift()!);
      n += next.mutations.length;
      bytes += next.bytes;
    }
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    const op = this.#kv.atomic();
    for (const p of batch) {
      for (const m of p.mutations) {
        m.value === undefined ? op.delete(m.key) : op.set(m.key, m.value);
      }
    }
    const res = await op.commit();
    if (!res.ok) throw new SpoolError("Spool commit was refused");
  }
}
