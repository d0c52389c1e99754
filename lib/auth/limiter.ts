/**
 * Counts authentication failures per client IP in a sliding window, so a client cannot
 * try passwords endlessly by reconnecting.
 */
export class AuthFailureLimiter {
  #max: number;
  #windowMs: number;
  #failures = new Map<string, number[]>();

  /** At most `max` failures per IP within `windowMs`. */
  constructor(max: number, windowMs: number) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  #recent(ip: string, now: number): number[] {
    const list = (this.#failures.get(ip) ?? []).filter((t) => now - t < this.#windowMs);
    if (list.length === 0) this.#failures.delete(ip);
    else this.#failures.set(ip, list);
    return list;
  }

  /** Tells whether the IP has used up its failures. */
  blocked(ip: string, now = Date.now()): boolean {
    return this.#recent(ip, now).length >= this.#max;
  }

  /** Records one failure. */
  fail(ip: string, now = Date.now()): void {
    this.#failures.set(ip, [...this.#recent(ip, now), now]);
    if (this.#failures.size > 100_000) this.#failures.delete(this.#failures.keys().next().value!);
  }
}
