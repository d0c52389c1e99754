import { LmdbLookup, LookupError, openLookups } from "../lib/lookup/mod.ts";
import { assertEquals, assertThrows } from "./helpers/assert.ts";
import { makeLmdb } from "./helpers/lmdb.ts";

Deno.test("lmdb lookup reads a file made by mdb_load, binary-safe", async () => {
  const bin = new Uint8Array([0, 0xff, 0x0a, 0x0d, 0x80]);
  const path = await makeLmdb([
    ["example.org", "relay"],
    [bin, new Uint8Array([1, 0, 2])],
    ["empty", ""],
  ]);
  const t = LmdbLookup.open({ name: "t", path });
  try {
    assertEquals(await t.get("example.org"), "relay");
    assertEquals(await t.get("Example.org"), null);
    assertEquals(t.getBytes(bin), new Uint8Array([1, 0, 2]));
    assertEquals(await t.get("empty"), "");
    assertEquals(await t.get(""), null);
  } finally {
    t.close();
    await Deno.remove(path, { recursive: true });
  }
});

Deno.test("lmdb lookup opens single-file databases and named sub-databases", async () => {
  const file = await makeLmdb([["k", "file"]], { noSubdir: true });
  const named = await makeLmdb([["k", "named"]], { database: "domains" });
  const a = LmdbLookup.open({ name: "a", path: file });
  const b = LmdbLookup.open({ name: "b", path: named, database: "domains" });
  try {
    assertEquals(await a.get("k"), "file");
    assertEquals(await b.get("k"), "named");
    assertThrows(
      () => LmdbLookup.open({ name: "c", path: named, database: "other" }),
      LookupError,
      "database other",
    );
  } finally {
    a.close();
    b.close();
    await Deno.remove(file.replace(/\/table\.mdb$/, ""), { recursive: true });
    await Deno.remove(named, { recursive: true });
  }
});

Deno.test("lmdb lookup sees entries added after it opened the file", async () => {
  const path = await makeLmdb([["a", "1"]]);
  const t = LmdbLookup.open({ name: "t", path });
  try {
    assertEquals(await t.get("b"), null);
    await makeLmdb([["b", "2"]], { path });
    assertEquals(await t.get("b"), "2");
    assertEquals(await t.get("a"), "1");
  } finally {
    t.close();
    await Deno.remove(path, { recursive: true });
  }
});

Deno.test("lmdb lookup fails clearly on a missing file or library", async () => {
  assertThrows(
    () => LmdbLookup.open({ name: "relay_domains", path: "/nonexistent/domains.mdb" }),
    LookupError,
    "Cannot open LMDB file /nonexistent/domains.mdb for lookup relay_domains",
  );
  const path = await makeLmdb([["a", "1"]]);
  assertThrows(
    () => LmdbLookup.open({ name: "t", path, library: "liblmdb-missing.so.0" }),
    LookupError,
    "Cannot load LMDB library liblmdb-missing.so.0",
  );
  const notLmdb = await Deno.makeTempFile();
  await Deno.writeTextFile(notLmdb, "this is not an lmdb file, just text ".repeat(200));
  assertThrows(() => LmdbLookup.open({ name: "t", path: notLmdb }), LookupError, "mdb_env_open");
  await Deno.remove(notLmdb);
  await Deno.remove(path, { recursive: true });
});

Deno.test("lmdb lookup closes and refuses further lookups; the registry caches it", async () => {
  const path = await makeLmdb([["example.org", "relay"]]);
  const registry = await openLookups({ d: { driver: "lmdb", path } });
  assertEquals(await registry.require("d").get("example.org"), "relay");
  assertEquals(await registry.require("d").get("example.org"), "relay");
  assertEquals(registry.stats().d, { driver: "lmdb", hits: 1, misses: 1, errors: 0 });
  await registry.close();
  const t = LmdbLookup.open({ name: "t", path });
  t.close();
  assertThrows(() => t.getBytes(new Uint8Array([1])), LookupError, "closed");
  await Deno.remove(path, { recursive: true });
});

Deno.test("lmdb lookup reopens a database renamed into place, keeps the old one meanwhile", async () => {
  const base = await Deno.makeTempDir();
  const live = `${base}/live`;
  await makeLmdb([["k", "old"]], { path: live });
  const t = LmdbLookup.open({ name: "t", path: live, checkInterval: 0 });
  try {
    assertEquals(await t.get("k"), "old");
    await makeLmdb([["k", "new"]], { path: `${base}/next` });
    await Deno.rename(live, `${base}/previous`);
    assertEquals(await t.get("k"), "old"); // path missing: keep answering
    await Deno.rename(`${base}/next`, live);
    assertEquals(await t.get("k"), "new");
  } finally {
    t.close();
    await Deno.remove(base, { recursive: true });
  }
});
