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
}

/**
 * Read-only lookups in a standard LMDB file (made by `mdb_load`, Exim's or any LMDB
 * writer) through FFI to the system library. Keys and values are raw bytes: `get` uses
 * the key's UTF-8 bytes and decodes the value as UTF-8, `getBytes` is fully binary-safe.
 * Each lookup runs in its own short read transaction, so it sees the latest committed data.
 */
export class LmdbLookup implements Lookup {
  readonly name: string;
  readonly driver = "lmdb";
  readonly #lib: LmdbLibrary;
  #env: Deno.PointerValue;
  #txn: Deno.PointerValue;
  readonly #dbi: number;
  readonly #key = new Uint8Array(16);
  readonly #val = new Uint8Array(16);
  readonly #keyView = new DataView(this.#key.buffer);
  readonly #valView = new DataView(this.#val.buffer);
  readonly #decoder = new TextDecoder();

  private constructor(
    name: string,
    lib: LmdbLibrary,
    env: Deno.PointerValue,
    txn: Deno.PointerValue,
    dbi: number,
  ) {
    this.name = name;
    this.#lib = lib;
    this.#env = env;
    this.#txn = txn;
    this.#dbi = dbi;
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
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(options.path);
    } catch (e) {
      throw new LookupError(
        `Cannot open LMDB file ${options.path} for lookup ${options.name}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const fail = (what: string, rc: number): never => {
      throw new LookupError(
        `Cannot open LMDB file ${options.path} for lookup ${options.name}: ${what}: ${
          lmdbError(lib, rc)
        }`,
      );
    };
    const out = new Uint8Array(8);
    let rc = lib.mdb_env_create(out);
    if (rc) fail("mdb_env_create", rc);
    const env = readPointer(out);
    if (options.database) lib.mdb_env_set_maxdbs(env, 64);
    const flags = MDB_RDONLY | (info.isDirectory ? 0 : MDB_NOSUBDIR);
    rc = lib.mdb_env_open(env, cString(options.path), flags, 0o644);
    if (rc) {
      lib.mdb_env_close(env);
      fail("mdb_env_open", rc);
    }
    // The database handle outlives the transaction only when that transaction commits.
    rc = lib.mdb_txn_begin(env, null, MDB_RDONLY, out);
    if (rc) {
      lib.mdb_env_close(env);
      fail("mdb_txn_begin", rc);
    }
    const dbiOut = new Uint8Array(4);
    const dbName = options.database ? cString(options.database) : null;
    let txn = readPointer(out);
    rc = lib.mdb_dbi_open(txn, dbName, 0, dbiOut);
    if (rc) {
      lib.mdb_txn_abort(txn);
      lib.mdb_env_close(env);
      fail(`database ${options.database ?? "(main)"}`, rc);
    }
    lib.mdb_txn_commit(txn);
    // One read transaction, reset between lookups and renewed for each.
    rc = lib.mdb_txn_begin(env, null, MDB_RDONLY, out);
    if (rc) {
      lib.mdb_env_close(env);
      fail("mdb_txn_begin", rc);
    }
    txn = readPointer(out);
    lib.mdb_txn_reset(txn);
    return new LmdbLookup(options.name, lib, env, txn, new Uint32Array(dbiOut.buffer)[0]);
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
    if (this.#txn === null) throw new LookupError(`Lookup ${this.name} is closed`);
    if (key.length === 0) return null; // LMDB rejects empty keys (MDB_BAD_VALSIZE)
    const lib = this.#lib;
    const keyBuf = new Uint8Array(key); // a private copy whose address stays put
    this.#keyView.setBigUint64(0, BigInt(keyBuf.length), true);
    this.#keyView.setBigUint64(
      8,
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(keyBuf))),
      true,
    );
    let rc = lib.mdb_txn_renew(this.#txn);
    if (rc) throw new LookupError(`Lookup ${this.name}: mdb_txn_renew: ${lmdbError(lib, rc)}`);
    try {
      rc = lib.mdb_get(this.#txn, this.#dbi, this.#key, this.#val);
      if (rc === MDB_NOTFOUND) return null;
      if (rc) throw new LookupError(`Lookup ${this.name}: mdb_get: ${lmdbError(lib, rc)}`);
      const size = Number(this.#valView.getBigUint64(0, true));
      const ptr = Deno.UnsafePointer.create(this.#valView.getBigUint64(8, true));
      if (size === 0 || ptr === null) return new Uint8Array(0);
      return new Uint8Array(new Deno.UnsafePointerView(ptr).getArrayBuffer(size).slice(0));
    } finally {
      lib.mdb_txn_reset(this.#txn);
    }
  }

  /** Ends the read transaction and closes the environment. */
  close(): void {
    if (this.#txn === null) return;
    this.#lib.mdb_txn_abort(this.#txn);
    this.#lib.mdb_env_close(this.#env);
    this.#txn = null;
    this.#env = null;
  }
}
