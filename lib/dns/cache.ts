/** A TTL-respecting cache of DNS results, bounded in entries. */
export class DnsCache<T> {
  #entries = new Map<string, { value: T; expires: number }>();
  #max: number;

  /** Creates a cache holding at most `max` entries. */
  constructor(max = 10_000) {
    this.#max = max;
  }

  /** The cached value, or undefined when absent or expired. */
  get(key: string, now = Date.now()): T | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Keeps a value for `ttl` seconds; a TTL of 0 stores nothing (RFC 1035 3.2.1). */
  set(key: string, value: T, ttl: number, now = Date.now()): void {
    if (ttl <= 0) return;
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, expires: now + ttl * 1000 });
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }
}
