import { Keyspace } from "../lib/spool/mod.ts";
// One behaviour suite run against every lookup driver (as Hono runs one suite on every router).
import {
  CachedLookup,
  DnsLookup,
  type DnsResolver,
  FileLookup,
  KvLookup,
  LmdbLookup,
  type Lookup,
  RedisLookup,
} from "../lib/lookup/mod.ts";
import { assertEquals } from "./helpers/assert.ts";
import { makeLmdb } from "./helpers/lmdb.ts";
import { startRedis } from "./helpers/redis.ts";

interface Made {
  lookup: Lookup;
  cleanup?: () => Promise<void> | void;
}

interface ContractOptions {
  /** The store keeps any characters in keys (newlines, NUL). */
  anyKey?: boolean;
  /** The store only has host names as keys (DNS): other keys are never asked. */
  namesOnly?: boolean;
}

const ENTRIES: Record<string, string> = {
  "example.org": "relay",
  "quote\"d'key": "v1",
  "${run{/bin/sh -c id}}": "v2",
  'lookup("x", "y") || true': "v3",
  "ключ.рф": "юникод",
  "list.example": "a, b, c",
};
const ODD_KEYS: Record<string, string> = { "line\r\nbreak": "v4", "nul\0byte": "v5" };

/** Runs the shared behaviour suite against one driver. */
function runLookupContract(
  driver: string,
  make: (entries: Record<string, string>) => Promise<Made>,
  options: ContractOptions = {},
): void {
  let entries = options.anyKey ? { ...ENTRIES, ...ODD_KEYS } : ENTRIES;
  if (options.namesOnly) {
    entries = Object.fromEntries(Object.entries(entries).filter(([k]) => /^[a-z0-9.-]+$/.test(k)));
  }
  Deno.test(`lookup contract (${driver}): finds values, answers null for absent keys`, async () => {
    const { lookup, cleanup } = await make(entries);
    try {
      assertEquals(lookup.driver, driver);
      for (const [k, v] of Object.entries(entries)) assertEquals(await lookup.get(k), v, k);
      assertEquals(await lookup.get("absent.example"), null);
      assertEquals(await lookup.get("example.or"), null);
      assertEquals(await lookup.get("*"), null);
    } finally {
      await lookup.close();
      await cleanup?.();
    }
  });

  Deno.test(`lookup contract (${driver}): keys are data, never patterns or queries`, async () => {
    const { lookup, cleanup } = await make(entries);
    try {
      for (const k of ['" || "1" == "1', "*", "example.org\r\nGET x", "${run{id}}", "%", ".*"]) {
        assertEquals(await lookup.get(k), null, JSON.stringify(k));
      }
    } finally {
      await lookup.close();
      await cleanup?.();
    }
  });

  Deno.test(`lookup contract (${driver}): concurrent lookups get their own answers`, async () => {
    const { lookup, cleanup } = await make(entries);
    try {
      const keys = Object.keys(entries);
      const got = await Promise.all(
        Array.from({ length: 60 }, (_, i) => lookup.get(keys[i % keys.length])),
      );
      got.forEach((v, i) => assertEquals(v, entries[keys[i % keys.length]]));
    } finally {
      await lookup.close();
      await cleanup?.();
    }
  });

  Deno.test(`lookup contract (${driver}): the cache gives the same answers`, async () => {
    const { lookup, cleanup } = await make(entries);
    const cached = new CachedLookup(lookup, { ttl: 60_000 });
    try {
      for (let round = 0; round < 2; round++) {
        assertEquals(await cached.get("example.org"), "relay");
        assertEquals(await cached.get("absent.example"), null);
      }
      assertEquals(cached.stats, { hits: 2, misses: 2, errors: 0 });
      if (cached.members) assertEquals(await cached.members("absent.example"), null);
    } finally {
      await cached.close();
      await cleanup?.();
    }
  });
}

function quoteKey(k: string): string {
  return `"${k.replace(/[\\"]/g, (c) => "\\" + c)}"`;
}

runLookupContract("file", async (entries) => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/table`;
  const lines = [
    "# contract table",
    ...Object.entries(entries).map(([k, v]) => `${quoteKey(k)}: ${v}`),
  ];
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
  return {
    lookup: await FileLookup.open({ name: "t", path, mode: "exact" }),
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

runLookupContract("lmdb", async (entries) => {
  const path = await makeLmdb(Object.entries(entries));
  return {
    lookup: LmdbLookup.open({ name: "t", path }),
    cleanup: () => Deno.remove(path, { recursive: true }),
  };
}, { anyKey: true });

runLookupContract("redis", async (entries) => {
  const redis = await startRedis();
  const lookup = new RedisLookup({ name: "t", servers: [redis.server()], command: ["HGET", "t"] });
  const writer = new RedisLookup({ name: "w", servers: [redis.server()] });
  for (const [k, v] of Object.entries(entries)) await writer.call(["HSET", "t", k, v]);
  await writer.close();
  return { lookup, cleanup: () => redis.stop() };
}, { anyKey: true });

runLookupContract("kv", async (entries) => {
  const kv = await Deno.openKv(":memory:");
  const lookup = new KvLookup("t", new Keyspace(kv, "lookup"));
  for (const [k, v] of Object.entries(entries)) await lookup.set(k, v);
  return { lookup, cleanup: () => kv.close() };
}, { anyKey: true });

runLookupContract("dns", (entries) => {
  // The DNS wire is tested in the dns/ resolver's own suite; here names map to TXT records.
  const zone = new Map(Object.entries(entries).map(([k, v]) => [`${k}.lists.test`, [v]]));
  const resolver: DnsResolver = {
    resolve: (name, type) => Promise.resolve(type === "TXT" ? zone.get(name) ?? null : null),
  };
  const lookup = new DnsLookup({ name: "t", zone: "lists.test", resolver });
  return Promise.resolve({ lookup });
}, { namesOnly: true });
