/** How long to leave a failing host alone. */
export interface HostRetryOptions {
  /** Wait after the first failure, in milliseconds (default one minute). */
  initial?: number;
  /** Longest wait, in milliseconds (default one hour). */
  max?: number;
}

interface HostState {
  failures: number;
  until: number;
  error: string;
}

/**
 * Host-level retry memory: a host that refused or timed out a connection is skipped until
 * its wait ends (doubling with each failure), so a queue full of mail for it does not
 * hammer it (Exim's host retry records). In memory: a restart forgets, which errs on
 * the side of trying.
 */
export class HostRetryMemory {
  #hosts = new Map<string, HostState>();
  #initial: number;
  #max: number;

  /** Creates the memory with the given waits. */
  constructor(opts: HostRetryOptions = {}) {
    this.#initial = opts.initial ?? 60_000;
    this.#max = opts.max ?? 3_600_000;
  }

  /** The last error when the host is still in its wait, else null. */
  waiting(key: string, now = Date.now()): string | null {
    const s = this.#hosts.get(key);
    return s && s.until > now ? s.error : null;
  }

  /** Records a failed connection. */
  failed(key: string, error: string, now = Date.now()): void {
    const s = this.#hosts.get(key) ?? { failures: 0, until: 0, error };
    s.failures++;
    s.error = error;
    s.until = now + Math.min(this.#max, this.#initial * 2 ** (s.failures - 1));
    this.#hosts.set(key, s);
  }

  /** Forgets a host's failures after a good connection. */
  succeeded(key: string): void {
    this.#hosts.delete(key);
  }
}
