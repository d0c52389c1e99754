// Bindings to the system LMDB library (Debian liblmdb0), the C API Exim links.
// Only what read-only single-key lookups need: env, read transaction, dbi, get.

const SYMBOLS = {
  mdb_env_create: { parameters: ["buffer"], result: "i32" },
  mdb_env_set_maxdbs: { parameters: ["pointer", "u32"], result: "i32" },
  mdb_env_open: { parameters: ["pointer", "buffer", "u32", "u32"], result: "i32" },
  mdb_env_close: { parameters: ["pointer"], result: "void" },
  mdb_txn_begin: { parameters: ["pointer", "pointer", "u32", "buffer"], result: "i32" },
  mdb_txn_reset: { parameters: ["pointer"], result: "void" },
  mdb_txn_renew: { parameters: ["pointer"], result: "i32" },
  mdb_txn_commit: { parameters: ["pointer"], result: "i32" },
  mdb_txn_abort: { parameters: ["pointer"], result: "void" },
  mdb_dbi_open: { parameters: ["pointer", "buffer", "u32", "buffer"], result: "i32" },
  mdb_get: { parameters: ["pointer", "u32", "buffer", "buffer"], result: "i32" },
  mdb_strerror: { parameters: ["i32"], result: "pointer" },
} as const;

/** The loaded library's functions. */
export type LmdbLibrary = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** `MDB_RDONLY`: open the environment or transaction read-only. */
export const MDB_RDONLY = 0x20000;
/** `MDB_NOSUBDIR`: the path names the data file itself, not a folder. */
export const MDB_NOSUBDIR = 0x4000;
/** `MDB_NOTFOUND`: the key is not in the database. */
export const MDB_NOTFOUND = -30798;

const loaded = new Map<string, Deno.DynamicLibrary<typeof SYMBOLS>>();

/** Opens (once per path) the LMDB shared library; throws what `Deno.dlopen` throws. */
export function loadLmdb(path: string): LmdbLibrary {
  let lib = loaded.get(path);
  if (!lib) {
    lib = Deno.dlopen(path, SYMBOLS);
    loaded.set(path, lib);
  }
  return lib.symbols;
}

/** The library's text for an error code. */
export function lmdbError(lib: LmdbLibrary, rc: number): string {
  const p = lib.mdb_strerror(rc);
  return p ? new Deno.UnsafePointerView(p).getCString() : `error ${rc}`;
}

/** A C string (NUL-terminated UTF-8) for passing to the library. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Reads the pointer stored in an out-parameter buffer. */
export function readPointer(buf: Uint8Array<ArrayBuffer>): Deno.PointerValue {
  return Deno.UnsafePointer.create(new BigUint64Array(buf.buffer, 0, 1)[0]);
}
