/**
 * Free space on the spool's filesystem, for a reserve like Postfix's `queue_minfree`. Deno
 * has no statfs, so this calls `statvfs(3)` in the C library through FFI (`--allow-ffi`).
 */

/** Bytes of `struct statvfs` on 64-bit Linux (glibc and musl): 11 longs and 6 ints. */
const STATVFS_SIZE = 112;

type Libc = { symbols: { statvfs: (path: Uint8Array, buf: Uint8Array) => number } };
let libc: Libc | null | undefined;

function openLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  // The struct layout below is that of 64-bit Linux; elsewhere the reserve is not checked.
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return null;
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      libc = Deno.dlopen(name, {
        statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
      }) as unknown as Libc;
      break;
    } catch { /* try the next name */ }
  }
  return libc;
}

/**
 * Bytes available to an unprivileged process on the filesystem holding `path`
 * (`f_bavail * f_frsize`), or null when it cannot be known (no FFI, another platform).
 *
 * @example Usage
 * ```ts
 * const free = statvfsAvailable("./data"); // for example 85899345920
 * ```
 */
export function statvfsAvailable(path: string): number | null {
  const lib = openLibc();
  if (!lib) return null;
  const buf = new Uint8Array(STATVFS_SIZE + 16);
  if (lib.symbols.statvfs(new TextEncoder().encode(path + "\0"), buf) !== 0) return null;
  const v = new DataView(buf.buffer);
  const frsize = Number(v.getBigUint64(8, true));
  const bavail = Number(v.getBigUint64(32, true));
  return bavail * frsize;
}

/** What {@linkcode FreeSpace} reports when the reserve is crossed, either way. */
export interface FreeSpaceChange {
  /** True when free space fell below the reserve; false when it is back above. */
  low: boolean;
  /** Bytes available at the check. */
  available: number;
  /** The reserve, bytes. */
  reserve: number;
}

/**
 * A free-space reserve on the spool's filesystem: below `reserve` bytes, new mail is refused
 * (452 4.3.1 at MAIL) before any body is sent. The filesystem is asked at most once a second,
 * and `onChange` hears only of crossings, so logs get a line per state change.
 *
 * @example Usage
 * ```ts
 * const space = new FreeSpace("./data", 100 * 1024 * 1024, (c) => console.log(c));
 * if (!space.room(declaredSize)) reply(452, "4.3.1", "Insufficient system storage");
 * ```
 */
export class FreeSpace {
  #path: string;
  #reserve: number;
  #onChange: (c: FreeSpaceChange) => void;
  #checked = -Infinity;
  #available: number | null = null;
  #low = false;
  #now: () => number;
  #statvfs: (path: string) => number | null;

  /**
   * Watches the filesystem of `path`. `opts.statvfs` and `opts.now` replace the system call
   * and the clock (tests).
   */
  constructor(
    path: string,
    reserve: number,
    onChange: (c: FreeSpaceChange) => void = () => {},
    opts: { statvfs?: (path: string) => number | null; now?: () => number } = {},
  ) {
    this.#path = path;
    this.#reserve = reserve;
    this.#onChange = onChange;
    this.#statvfs = opts.statvfs ?? statvfsAvailable;
    this.#now = opts.now ?? Date.now;
  }

  /** Bytes available (as of the last check, at most a second old), or null when unknown. */
  available(): number | null {
    const now = this.#now();
    if (now - this.#checked >= 1000) {
      this.#checked = now;
      this.#available = this.#statvfs(this.#path);
      const low = this.#available !== null && this.#available < this.#reserve;
      if (low !== this.#low) {
        this.#low = low;
        this.#onChange({ low, available: this.#available ?? 0, reserve: this.#reserve });
      }
    }
    return this.#available;
  }

  /**
   * Whether a message of `size` bytes (0 when not declared) may be accepted: the reserve is
   * left free after it. Unknown free space allows it (the commit still fails safely).
   */
  room(size = 0): boolean {
    const free = this.available();
    return free === null || free - size >= this.#reserve;
  }
}
