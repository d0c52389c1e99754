import { type Config, defaultConfig, loadConfig } from "../config/mod.ts";
import { Spool, SpoolLock, verifySpool } from "../spool/mod.ts";

/** Loads `--config FILE`, or the built-in defaults when none is given. */
export async function configFrom(path: string | boolean | undefined): Promise<Config> {
  return typeof path === "string" ? await loadConfig(path) : defaultConfig();
}

/** Opens the spool a configuration names. */
export function openSpool(config: Config): Promise<Spool> {
  return Spool.open(config.server.spool);
}

/** A spool opened by the one process that may write to it, and the lock that makes it so. */
export interface OwnedSpool {
  spool: Spool;
  /** Null for an in-memory spool. */
  lock: SpoolLock | null;
  /** Closes the spool, then gives the lock up. */
  close(): void;
}

/**
 * Takes the spool's lock (refused, naming the pid, when another process holds it), checks the
 * store on disk (SQLite quick_check; a missing `spool.kv` beside files of an earlier spool is
 * an error) and opens it. `relay serve` and the CLI commands that deliver or remove use this.
 */
export async function openOwnedSpool(config: Config): Promise<OwnedSpool> {
  const dir = config.server.spool;
  if (dir === ":memory:") {
    const spool = await Spool.open(dir);
    return { spool, lock: null, close: () => spool.close() };
  }
  const lock = await SpoolLock.acquire(dir);
  try {
    await verifySpool(dir, { hadLock: lock.existed });
    const spool = await Spool.open(dir);
    return {
      spool,
      lock,
      close() {
        spool.close();
        lock.release();
      },
    };
  } catch (e) {
    // A lock file this run created must not make a folder look like an earlier spool.
    if (!lock.existed) await Deno.remove(lock.path).catch(() => {});
    lock.release();
    throw e;
  }
}

/** Writes a line to stdout. */
export function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}
