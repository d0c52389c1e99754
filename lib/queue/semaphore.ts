/** Counts slots; `acquire` waits for a free one and returns its release. */
export class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];

  /** Creates a semaphore with `slots` free slots. */
  constructor(slots: number) {
    this.#free = slots;
  }

  /** Waits for a slot; call the returned function once to give it back. */
  async acquire(): Promise<() => void> {
    while (this.#free === 0) await new Promise<void>((r) => this.#waiters.push(r));
    this.#free--;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#free++;
      this.#waiters.shift()?.();
    };
  }
}

/** One semaphore per key (per recipient domain), created on demand, dropped when idle. */
export class KeyedSemaphore {
  #slots: number;
  #map = new Map<string, { sem: Semaphore; users: number }>();

  /** Creates the set with `slots` per key. */
  constructor(slots: number) {
    this.#slots = slots;
  }

  /** Waits for a slot for `key`. */
  async acquire(key: string): Promise<() => void> {
    let e = this.#map.get(key);
    if (!e) this.#map.set(key, e = { sem: new Semaphore(this.#slots), users: 0 });
    e.users++;
    const release = await e.sem.acquire();
    return () => {
      release();
      if (--e!.users === 0) this.#map.delete(key);
    };
  }
}
