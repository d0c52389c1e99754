import { DatabaseSync } from "node:sqlite";
import { SpoolError } from "./errors.ts";
import { LOCK_FILE } from "./lock.ts";

/** The spool's Deno KV file inside its folder (SQLite, with `-wal` and `-shm` beside it). */
export const KV_FILE = "spool.kv";

/** The spool on disk cannot be used as it is: damaged, or its database file is missing. */
export class SpoolDamagedError extends SpoolError {
  /** The file at fault. */
  readonly path: string;
  /** Creates the error for `path`, with what is wrong and the way out. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpoolDamagedError";
    this.path = path;
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new SpoolError(`Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Looks at a spool folder before it is opened for serving, so that a damaged store is never
 * given new mail: `spool.kv` missing or empty while other spool files (its `-wal`, `-shm` or the
 * lock file of an earlier run) are there is reported rather than replaced by a new empty spool;
 * an existing `spool.kv` must pass SQLite's `PRAGMA quick_check`, run read-only. A folder with
 * none of these files is a new spool and passes.
 *
 * `hadLock`: the lock file existed before this process took it (pass it when the lock is
 * taken first, as `relay serve` does, since taking it creates the file).
 *
 * @throws {SpoolDamagedError} naming the file and what to do
 */
export async function verifySpool(dir: string, opts: { hadLock?: boolean } = {}): Promise<void> {
  const path = `${dir}/${KV_FILE}`;
  const size = await sizeOf(path);
  if (size === null || size === 0) {
    const others: string[] = [];
    for (const f of [`${KV_FILE}-wal`, `${KV_FILE}-shm`]) {
      if (await sizeOf(`${dir}/${f}`) !== null) others.push(f);
    }
    if (opts.hadLock ?? await sizeOf(`${dir}/${LOCK_FILE}`) !== null) others.push(LOCK_FILE);
    if (others.length === 0) return; // a new spool
    throw new SpoolDamagedError(
      path,
      `Spool database ${path} is ${size === null ? "missing" : "empty"} but the folder holds ` +
        `${others.join(", ")} of an earlier spool: refusing to start with a new empty spool. ` +
        `Restore ${KV_FILE} from a backup, or, to really start empty, move the folder ${dir} away`,
    );
  }
  let problems: string[];
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const rows = db.prepare("PRAGMA quick_check").all() as Record<string, unknown>[];
      problems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== "ok");
    } finally {
      db.close();
    }
  } catch (e) {
    problems = [(e as Error).message];
  }
  if (problems.length > 0) {
    throw new SpoolDamagedError(
      path,
      `Spool database ${path} is damaged (SQLite quick_check: ${
        problems.slice(0, 3).join("; ")
      }): refusing to serve from it. Stop every process using it, keep a copy of the folder, ` +
        `then try "sqlite3 ${path} .recover | sqlite3 ${path}.recovered" and move the ` +
        `recovered file in place of ${KV_FILE} (with no ${KV_FILE}-wal or -shm beside it), ` +
        `or restore it from a backup`,
    );
  }
}
