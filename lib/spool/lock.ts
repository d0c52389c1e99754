import { SpoolError } from "./errors.ts";

/** The lock file's name inside the spool folder. */
export const LOCK_FILE = "spool.lock";

/** Another process holds the spool: a second `relay serve` (or a writing CLI command) runs. */
export class SpoolLockedError extends SpoolError {
  /** The pid written in the lock file by the holder, or null when it cannot be read. */
  readonly pid: number | null;
  /** Creates the error for the lock file `path` held by `pid`. */
  constructor(path: string, pid: number | null) {
    super(
      `Spool ${path.replace(/\/[^/]*$/, "")} is in use by another process` +
        (pid === null ? "" : ` (pid ${pid})`) + `: lock file ${path} is held; ` +
        `stop that process first (one process owns a spool)`,
    );
    this.name = "SpoolLockedError";
    this.pid = pid;
  }
}

/**
 * An exclusive advisory lock (flock) on `<spool>/spool.lock`, holding the owner's pid. The
 * operating system releases it when the process ends, even by SIGKILL, so a crash never leaves
 * a spool locked; the pid in the file is only there to name the owner.
 *
 * @example Usage
 * ```ts
 * const lock = await SpoolLock.acquire("./data"); // throws SpoolLockedError if held
 * // ... serve ...
 * lock.release();
 * ```
 */
export class SpoolLock {
  #file: Deno.FsFile | null;
  /** The lock file's path. */
  readonly path: string;
  /** The lock file was there before (left by an earlier run): the folder is not new. */
  readonly existed: boolean;

  private constructor(file: Deno.FsFile, path: string, existed: boolean) {
    this.#file = file;
    this.path = path;
    this.existed = existed;
  }

  /**
   * Takes the lock without waiting; the spool folder is created (mode 0700) when missing.
   *
   * @throws {SpoolLockedError} when another process holds it (its pid named)
   */
  static async acquire(dir: string): Promise<SpoolLock> {
    const path = `${dir}/${LOCK_FILE}`;
    let file: Deno.FsFile;
    let existed = true;
    try {
      await Deno.lstat(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        existed = false;
      });
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    } catch (e) {
      throw new SpoolError(`Cannot open spool lock file ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch (e) {
      file.close();
      throw new SpoolError(`Cannot lock ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (!locked) {
      file.close();
      const text = await Deno.readTextFile(path).catch(() => "");
      const pid = /^\d+/.exec(text.trim());
      throw new SpoolLockedError(path, pid ? Number(pid[0]) : null);
    }
    try {
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch (e) {
      file.close();
      throw new SpoolError(`Cannot write ${path}: ${(e as Error).message}`, { cause: e });
    }
    return new SpoolLock(file, path, existed);
  }

  /** Gives the lock up (also done by the OS when the process ends). */
  release(): void {
    if (!this.#file) return;
    try {
      this.#file.truncateSync(0);
    } catch { /* the lock is what matters */ }
    this.#file.close();
    this.#file = null;
  }
}
