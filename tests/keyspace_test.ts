import { Keyspace, KEYSPACES, Spool } from "../lib/spool/mod.ts";
import { assertEquals, assertThrows } from "./helpers/assert.ts";

Deno.test("keyspaces: docs/ARCHITECTURE.md lists exactly the prefixes and owners of KEYSPACES", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/ARCHITECTURE.md", import.meta.url));
  const rows = [...doc.matchAll(/^\| `([a-z]+)`\s*\| ([a-z]+)\s*\|/gm)].map((m) => [m[1], m[2]]);
  assertEquals(Object.fromEntries(rows), { ...KEYSPACES });
});

Deno.test("keyspaces: keys are built below the owner's prefix and atomics refuse others' keys", async () => {
  const spool = await Spool.open(":memory:");
  try {
    const ks = spool.keyspace("queue");
    await ks.set(["warned", "X"], 1);
    assertEquals((await spool.kv.get(["queue", "warned", "X"])).value, 1);
    assertThrows(
      () => ks.atomic().set(["lookup", "t", "k"], "v"),
      RangeError,
      'outside keyspace "queue"',
    );
    const other = new Keyspace(spool.kv, "lookup");
    assertEquals((await other.get(["warned", "X"])).value, null);
  } finally {
    spool.close();
  }
});
