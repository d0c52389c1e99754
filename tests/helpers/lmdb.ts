/**
 * Real LMDB files for tests and benchmarks, written by `mdb_load` (Debian lmdb-utils) from
 * hex-encoded pairs, so keys and values may hold any bytes.
 *
 * @module
 */

import { requireProgram } from "./requirements.ts";

const MDB_LOAD = "/usr/bin/mdb_load";

/** A key or value: text (UTF-8) or raw bytes. */
export type LmdbDatum = string | Uint8Array;

/** Options of {@linkcode makeLmdb}. */
export interface MakeLmdbOptions {
  /** Write a single data file (`mdb_load -n`) instead of a folder with `data.mdb`. */
  noSubdir?: boolean;
  /** A named sub-database (`mdb_load -s NAME`). */
  database?: string;
  /** Where to write; default a new temp folder. */
  path?: string;
}

function hex(d: LmdbDatum): string {
  const bytes = typeof d === "string" ? new TextEncoder().encode(d) : d;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes the pairs into a new LMDB database with `mdb_load` and returns its path.
 *
 * @example Usage
 * ```ts
 * const path = await makeLmdb([["example.org", "relay"]]);
 * ```
 */
export async function makeLmdb(
  pairs: [LmdbDatum, LmdbDatum][],
  options: MakeLmdbOptions = {},
): Promise<string> {
  const base = options.path ?? Deno.makeTempDirSync({ prefix: "relay-lmdb-" });
  const path = options.noSubdir ? `${base}/table.mdb` : base;
  await Deno.mkdir(base, { recursive: true });
  const lines = ["VERSION=3", "format=bytevalue", "type=btree", "HEADER=END"];
  for (const [k, v] of pairs) lines.push(` ${hex(k)}`, ` ${hex(v)}`);
  lines.push("DATA=END", "");
  const args = [
    ...(options.noSubdir ? ["-n"] : []),
    ...(options.database ? ["-s", options.database] : []),
    path,
  ];
  const child = new Deno.Command(requireProgram(MDB_LOAD, "lmdb-utils"), {
    args,
    stdin: "piped",
    stderr: "piped",
    stdout: "null",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(lines.join("\n")));
  await w.close();
  const { code, stderr } = await child.output();
  if (code !== 0) {
    throw new Error(`mdb_load failed (${code}): ${new TextDecoder().decode(stderr)}`);
  }
  return path;
}
