import type { SmtpConnection } from "./smtp_connection.ts";

/** Limits of a {@linkcode ConnectionPool}. */
export interface PoolOptions {
  /** Open connections per host key, busy or idle (default 10). */
  maxPerHost?: number;
  /** Close an idle connection after this many milliseconds (default 5000; 0 disables reuse). */
  idleTimeout?: number;
  /** Transactions on one connection before it is closed (default 100). */
  maxTransactions?: number;
}

interface HostSlot {
  open: number;
  idle: { conn: SmtpConnection; timer: ReturnType<typeof setTimeout> }[];
  waiters: (() => void)[];
}

/**
 * Outbound connections per host (`ip:port`): at most `maxPerHost` open at once, idle ones kept
 * a few seconds for the next message to the same host.
 */
export class ConnectionPool {
  #slots = new Map<string, HostSlot>();
  #busy = new Set<SmtpConnection>();
  #max: number;
  #idleTimeout: number;
  #maxTransactions: number;

  /** Creates an empty pool. */
  constructor(opts: PoolOptions = {}) {
    this.#max = opts.maxPerHost ?? 10;
    this.#idleTimeout = opts.idleTimeout ?? 5000;
    this.#maxTransactions = opts.maxTransactions ?? 100;
  }

  #slot(key: string): HostSlot {
    let s = this.#slots.get(key);
    if (!s) this.#slots.set(key, s = { open: 0, idle: [], waiters: [] });
    return s;
  }

  /** An idle connection to the host, or a new one from `open`, within the host's limit. */
  async acquire(key: string, open: () => Promise<SmtpConnection>): Promise<SmtpConnection> {
    const s = this.#slot(key);
    for (;;) {
      const idle = s.idle.pop();
      if (idle) {
        clearTimeout(idle.timer);
        if (idle.conn.usable) {
          this.#busy.add(idle.conn);
          return idle.conn;
        }
        s.open--;
        continue;
      }
      if (s.open < this.#max) break;
      await new Promise<void>((r) => s.waiters.push(r));
    }
    s.open++;
    try {
      const conn = await open();
      this.#busy.add(conn);
      return conn;
    } catch (e) {
      s.open--;
      s.waiters.shift()?.();
      throw e;
    }
  }

  /** Gives a connection back: kept idle when still good, else closed. */
  release(key: string, conn: SmtpConnection): void {
    const s = this.#slot(key);
    this.#busy.delete(conn);
    if (conn.usable && this.#idleTimeout > 0 && conn.transactions < this.#maxTransactions) {
      const entry = {
        conn,
        timer: setTimeout(() => {
          s.idle.splice(s.idle.indexOf(entry), 1);
          s.open--;
          conn.quit();
          s.waiters.shift()?.();
        }, this.#idleTimeout),
      };
      s.idle.push(entry);
    } else {
      s.open--;
      conn.usable ? conn.quit() : conn.close();
    }
    s.waiters.shift()?.();
  }

  /**
   * Closes every idle connection; busy ones close when released, or at once with `abort`
   * (their transactions then fail as lost connections: the recipients are deferred).
   */
  async close(abort = false): Promise<void> {
    if (abort) { for (const conn of this.#busy) conn.close(); }
    const all: Promise<void>[] = [];
    for (const s of this.#slots.values()) {
      for (const { conn, timer } of s.idle.splice(0)) {
        clearTimeout(timer);
        s.open--;
        all.push(conn.quit());
      }
    }
    this.#idleTimeout = 0;
    await Promise.all(all);
  }
}
