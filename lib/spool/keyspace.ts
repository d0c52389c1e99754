/**
 * Who owns which keys of the spool's Deno KV. Every key the relay writes starts with one of
 * these prefixes, and only the named area reads or writes it (through a {@linkcode Keyspace});
 * an object literal cannot name a prefix twice. docs/ARCHITECTURE.md lists the same table
 * (a test keeps the two equal).
 */
export const KEYSPACES = {
  /** Envelopes (the first 50 recipients). */
  msg: "spool",
  /** Further recipient blocks. */
  rcpt: "spool",
  /** Body chunks. */
  body: "spool",
  /** Messages being written or removed in several commits. */
  partial: "spool",
  /** Runner lease, control requests, delay-warning marks. */
  queue: "queue",
  /** DMARC results kept for aggregate reports. */
  dmarc: "server",
  /** Rate-limit counters of `ratelimit()` in ACLs. */
  ratelimit: "policy",
  /** `driver = "kv"` lookup tables. */
  lookup: "lookup",
} as const;

/** A prefix another area may claim (the spool's own are used inside lib/spool only). */
export type KeyspaceName = Exclude<
  keyof typeof KEYSPACES,
  "msg" | "rcpt" | "body" | "partial"
>;

/**
 * One area's part of the KV: keys are built below its prefix, so the area cannot touch
 * another's. Reads and writes go straight to Deno KV (not through the group committer).
 */
export class Keyspace {
  /** The first key part every key of this keyspace has. */
  readonly prefix: KeyspaceName;
  readonly #kv: Deno.Kv;

  /** Wraps `kv` for the area that owns `prefix`. */
  constructor(kv: Deno.Kv, prefix: KeyspaceName) {
    this.#kv = kv;
    this.prefix = prefix;
  }

  /** The full key of `parts` below the prefix. */
  key(...parts: Deno.KvKeyPart[]): Deno.KvKey {
    return [this.prefix, ...parts];
  }

  /** Reads one entry. */
  get<T>(parts: Deno.KvKeyPart[]): Promise<Deno.KvEntryMaybe<T>> {
    return this.#kv.get<T>(this.key(...parts));
  }

  /** Reads several entries at once. */
  getMany<T extends readonly unknown[]>(
    keys: Deno.KvKeyPart[][],
  ): Promise<{ [K in keyof T]: Deno.KvEntryMaybe<T[K]> }> {
    // deno-lint-ignore no-explicit-any
    return this.#kv.getMany<T>(keys.map((k) => this.key(...k)) as any);
  }

  /** Writes one entry. */
  async set(parts: Deno.KvKeyPart[], value: unknown, opts?: { expireIn?: number }): Promise<void> {
    await this.#kv.set(this.key(...parts), value, opts);
  }

  /** Deletes one entry. */
  async delete(parts: Deno.KvKeyPart[]): Promise<void> {
    await this.#kv.delete(this.key(...parts));
  }

  /** Lists entries below `parts` (default: the whole keyspace). */
  list<T>(parts: Deno.KvKeyPart[] = [], opts?: Deno.KvListOptions): Deno.KvListIterator<T> {
    return this.#kv.list<T>({ prefix: this.key(...parts) }, opts);
  }

  /** Lists entries from `start` (inclusive) to `end` (exclusive), both below the prefix. */
  range<T>(start: Deno.KvKeyPart[], end: Deno.KvKeyPart[]): Deno.KvListIterator<T> {
    return this.#kv.list<T>({ start: this.key(...start), end: this.key(...end) });
  }

  /**
   * An atomic operation; use {@linkcode Keyspace.key} for its keys, which are checked at
   * commit time to lie in this keyspace.
   */
  atomic(): KeyspaceAtomic {
    return new KeyspaceAtomic(this.#kv.atomic(), this.prefix);
  }
}

/** An atomic operation limited to one keyspace (check, set, delete, commit). */
export class KeyspaceAtomic {
  readonly #op: Deno.AtomicOperation;
  readonly #prefix: string;

  /** Wraps `op` for keys below `prefix`. */
  constructor(op: Deno.AtomicOperation, prefix: string) {
    this.#op = op;
    this.#prefix = prefix;
  }

  #own(key: Deno.KvKey): Deno.KvKey {
    if (key[0] !== this.#prefix) {
      throw new RangeError(`Key ${JSON.stringify(key)} is outside keyspace "${this.#prefix}"`);
    }
    return key;
  }

  /** Fails the commit unless the entries still have these versionstamps. */
  check(...checks: Deno.AtomicCheck[]): this {
    for (const c of checks) this.#own(c.key);
    this.#op.check(...checks);
    return this;
  }

  /** Sets a key. */
  set(key: Deno.KvKey, value: unknown, opts?: { expireIn?: number }): this {
    this.#op.set(this.#own(key), value, opts);
    return this;
  }

  /** Deletes a key. */
  delete(key: Deno.KvKey): this {
    this.#op.delete(this.#own(key));
    return this;
  }

  /** Commits. */
  commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    return this.#op.commit();
  }
}
