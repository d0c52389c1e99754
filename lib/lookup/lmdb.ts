import {
  cString,
  lmdbError,
  type LmdbLibrary,
  loadLmdb,
  MDB_NOSUBDIR,
  MDB_NOTFOUND,
  MDB_RDONLY,
  readPointer,
} from "./lmdb_ffi.ts";
import { type Lookup, LookupError, type LookupValue } from "./types.ts";

/** Options of {@linkcode LmdbLookup}. */
export interface LmdbLookupOptions {
  /** Table name for messages. */
  name: string;
  /** The LMDB folder (with `data.mdb`) or the data file itself (made with `mdb_load -n`). */
  path: string;
  /** A named sub-database (`mdb_load -s NAME`); default the main database. */
  database?: string;
  /** The shared library; default `liblmdb.so.0` (Debian liblmdb0). */
  library?: string;
  /**
   * Milliseconds between checks that the file is still the same one (a new database moved
   * into place is reopened); 0 checks on every lookup. Default 1000.
   */
  checkInterval?: number;
}

// An open environment with one read transaction (reset between lookups) and the database.
interface Handle {
  env: Deno.PointerValue;
  txn: Deno.PointerValue;
  dbi: number;
  /** Device and inode of the data file, to notice a replaced database. */
  stamp: string;
}

function dataFile(path: string, info: Deno.FileInfo): string {
  return info.isDirectory ? `${path}/data.mdb` : path;
}

function stampOf(path: string): string {
  const info = Deno.statSync(path);
  const st = Deno.statSync(dataFile(path, info));
  return `${st.dev}/${st.ino}`;
}

function openHandle(lib: LmdbLibrary, options: LmdbLookupOptions): Handle {
  const what = `LMDB file ${options.path} for lookup ${options.name}`;
  let info: Deno.FileInfo;
  let stamp: string;
  try {
    info = Deno.statSync(options.path);
    stamp = stampOf(options.path);
  } catch (e) {
    throw new LookupError(`Cannot open ${what}: ${(e as Error).message}`, { cause: e });
  }
  const out = new Uint8Array(8);
  let env: Deno.PointerValue = null;
  const fail = (step: string, rc: number): never => {
    if (env) lib.mdb_env_close(env);
    throw new LookupError(`Cannot open ${what}: ${step}: ${lmdbError(lib, rc)}`);
  };
  let rc = lib.mdb_env_create(out);
  if (rc) fail("mdb_env_create", rc);
  env = readPointer(out);
  if (options.database) lib.mdb_env_set_maxdbs(env, 64);
  const flags = MDB_RDONLY | (info.isDirectory ? 0 : MDB_NOSUBDIR);
  rc = lib.mdb_env_open(env, cString(options.path), flags, 0o644);
  if (rc) fail("mdb_env_open", rc);
  // The database handle outlives its transaction only when that transaction commits.
  rc = lib.mdb_txn_begin(env, null, MDB_RDONLY, out);
  if (rc) fail("mdb_txn_begin", rc);
  let txn = readPointer(out);
  const dbiOut = new Uint8Array(4);
  rc = lib.mdb_dbi_open(txn, options.database ? cString(options.database) : null, 0, dbiOut);
  if (rc) {
    lib.mdb_txn_abort(txn);
    fail(`database ${options.database ?? "(main)"}`, rc);
  }
  lib.mdb_txn_commit(txn);
  rc = lib.mdb_txn_begin(env, null, MDB_RDONLY, out);
  if (rc) fail("mdb_txn_begin", rc);
  txn = readPointer(out);
  lib.mdb_txn_reset(txn);
  return { env, txn, dbi: new Uint32Array(dbiOut.buffer)[0], stamp };
}

function closeHandle(lib: LmdbLibrary, h: Handle): void {
  lib.mdb_txn_abort(h.txn);
  lib.mdb_env_close(h.env);
}

/**
 * Read-only lookups in a standard LMDB file (made by `mdb_load`, Exim's or any LMDB
 * writer) through FFI to the system library. Keys and values are raw bytes: `get` uses
 * the key's UTF-8 bytes and decodes the value as UTF-8, `getBytes` is fully binary-safe.
 * Each lookup runs in a fresh read snapshot, so it sees the latest committed data; a
 * database replaced by a rename is reopened.
 */
export class LmdbLookup implements Lookup {
  readonly name: string;
  readonly driver = "lmdb";
  readonly #lib: LmdbLibrary;
  readonly #options: LmdbLookupOptions;
  #handle: Handle | null;
  #checked = Date.now();
  readonly #key = new Uint8Array(16);
  readonly #val = new Uint8Array(16);
  readonly #keyView = new DataView(this.#key.buffer);
  readonly #valView = new DataView(this.#val.buffer);
  readonly #decoder = new TextDecoder();

  private constructor(lib: LmdbLibrary, options: LmdbLookupOptions) {
    this.name = options.name;
    this.#lib = lib;
    this.#options = options;
    this.#handle = openHandle(lib, options);
  }

  /**
   * Loads the library and opens the file read-only.
   *
   * @throws {LookupError} when the library, the file or the database is missing
   */
  static open(options: LmdbLookupOptions): LmdbLookup {
    const libPath = options.library ?? "liblmdb.so.0";
    let lib: LmdbLibrary;
    try {
      lib = loadLmdb(libPath);
    } catch (e) {
      throw new LookupError(
        `Cannot load LMDB library ${libPath} for lookup ${options.name}: ${
          (e as Error).message
        } (install liblmdb0; run with --allow-ffi)`,
        { cause: e },
      );
    }
    return new LmdbLookup(lib, options);
  }

  /** Looks up the key's UTF-8 bytes; the value is decoded as UTF-8. */
  get(key: string): Promise<LookupValue> {
    const v = this.getBytes(new TextEncoder().encode(key));
    return Promise.resolve(v === null ? null : this.#decoder.decode(v));
  }

  /**
   * Looks up raw key bytes and returns a copy of the raw value, or null when absent.
   *
   * @throws {LookupError} when the table is closed or LMDB reports an error
   */
  getBytes(key: Uint8Array): Uint8Array | null {
    if (this.#handle === null) throw new LookupError(`Lookup ${this.name} is closed`);
    if (key.length === 0) return null; // LMDB rejects empty keys (MDB_BAD_VALSIZE)
    this.#maybeReopen();
    const { txn, dbi } = this.#handle;
    const lib = this.#lib;
    const keyBuf = new Uint8Array(key); // a private copy whose address stays put
    this.#keyView.setBigUint64(0, BigInt(keyBuf.length), true);
    this.#keyView.setBigUint64(
      8,
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(keyBuf))),
      true,
    );
    let rc = lib.mdb_txn_renew(txn);
    if (rc) throw new LookupError(`Lookup ${this.name}: mdb_txn_renew: ${lmdbError(lib, rc)}`);
    try {
      rc = lib.mdb_get(txn, dbi, this.#key, this.#val);
      if (rc === MDB_NOTFOUND) return null;
      if (rc) throw new LookupError(`Lookup ${this.name}: mdb_get: ${lmdbError(lib, rc)}`);
      const size = Number(this.#valView.getBigUint64(0, true));
      const ptr = Deno.UnsafePointer.create(this.#valView.getBigUint64(8, true));
      if (size === 0 || ptr === null) return new Uint8Array(0);
      return new Uint8Array(new Deno.UnsafePointerView(ptr).getArrayBuffer(size).slice(0));
    } finally {
      lib.mdb_txn_reset(txn);
    }
  }

  /** Ends the read transaction and closes the environment. */
  close(): void {
    if (this.#handle) closeHandle(this.#lib, this.#handle);
    this.#handle = null;
  }

  // A new database renamed into place has another inode: open it, close the old one.
  // While the path is missing or unreadable, the open database keeps answering.
  #maybeReopen(): void {
    const interval = this.#options.checkInterval ?? 1000;
    const now = Date.now();
    if (interval > 0 && now - this.#checked < interval) return;
    this.#checked = now;
    let stamp: string;
    try {
      stamp = stampOf(this.#options.path);
    } catch {
      return;
    }
    if (stamp === this.#handle!.stamp) return;
    let fresh: Handle;
    try {
      fresh = openHandle(this.#lib, this.#options);
    } catch {
      return; // not a complete database yet: keep the old one, try again later
    }
    closeHandle(this.#lib, this.#handle!);
    this.#handle = fresh;
  }
}
