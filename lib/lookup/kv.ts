import { type Lookup, LookupDeferError, type LookupValue } from "./types.ts";

/**
 * The part of the relay's KV that lookup tables own (the spool's `lookup` keyspace): keys are
 * given below its prefix, `[TABLE, KEY]`.
 */
export interface KvStore {
  /** Reads one entry. */
  get<T>(parts: Deno.KvKeyPart[]): Promise<Deno.KvEntryMaybe<T>>;
  /** Writes one entry. */
  set(parts: Deno.KvKeyPart[], value: unknown): Promise<void>;
  /** Deletes one entry. */
  delete(parts: Deno.KvKeyPart[]): Promise<void>;
  /** Lists the entries below `parts`; their keys are full keys (prefix first). */
  list<T>(parts: Deno.KvKeyPart[], opts?: Deno.KvListOptions): Deno.KvListIterator<T>;
}

/**
 * A table kept in the relay's own Deno KV under `["lookup", NAME, KEY]`, managed with
 * `relay lookup set/get/delete`. Values are strings; lists are stored as string arrays.
 */
export class KvLookup implements Lookup {
  readonly name: string;
  readonly driver = "kv";
  readonly #kv: KvStore;

  /** Uses the spool's `lookup` keyspace; `close` does not close it. */
  constructor(name: string, kv: KvStore) {
    this.name = name;
    this.#kv = kv;
  }

  /** The stored string (a list reads as its items joined with newlines), or null. */
  async get(key: string): Promise<LookupValue> {
    const v = await this.#read(key);
    if (v === null) return null;
    return Array.isArray(v) ? v.join("\n") : String(v);
  }

  /** The stored list (a plain string is a list of one), or null. */
  async members(key: string): Promise<string[] | null> {
    const v = await this.#read(key);
    if (v === null) return null;
    return Array.isArray(v) ? v.map(String) : [String(v)];
  }

  /** Stores a value (a string, or a list for `members`). */
  async set(key: string, value: string | string[]): Promise<void> {
    await this.#kv.set([this.name, key], value);
  }

  /** Removes a key; true when it existed. */
  async delete(key: string): Promise<boolean> {
    const had = (await this.#kv.get([this.name, key])).versionstamp !== null;
    await this.#kv.delete([this.name, key]);
    return had;
  }

  /** Lists up to `limit` entries of the table, in key order. */
  async list(limit = 1000): Promise<[string, string][]> {
    const out: [string, string][] = [];
    for await (const e of this.#kv.list<unknown>([this.name], { limit })) {
      const v = e.value;
      out.push([String(e.key[2]), Array.isArray(v) ? v.join(",") : String(v)]);
    }
    return out;
  }

  /** The KV database belongs to its opener: nothing to do. */
  close(): void {}

  async #read(key: string): Promise<unknown> {
    try {
      return (await this.#kv.get([this.name, key])).value;
    } catch (e) {
      throw new LookupDeferError(`Lookup ${this.name}: KV read failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}
