import { Keyspace } from "../lib/spool/mod.ts";
import {
  CachedLookup,
  dnsbl,
  dnsblName,
  DnsLookup,
  type DnsResolver,
  KvLookup,
  type Lookup,
  LookupDeferError,
  LookupError,
  openLookups,
} from "../lib/lookup/mod.ts";
import { lookupsSchema } from "../lib/config/schema_policy.ts";
import { assertEquals, assertRejects } from "./helpers/assert.ts";

function counting(values: Record<string, string>): Lookup & { calls: number; fail: boolean } {
  return {
    name: "t",
    driver: "test",
    calls: 0,
    fail: false,
    get(key) {
      this.calls++;
      if (this.fail) return Promise.reject(new LookupDeferError("down"));
      return Promise.resolve(values[key] ?? null);
    },
    close() {},
  };
}

Deno.test("lookup cache keeps values for the TTL and absent keys for the negative TTL", async () => {
  let now = 0;
  const inner = counting({ a: "1" });
  const c = new CachedLookup(inner, { ttl: 1000, negativeTtl: 100, now: () => now });
  assertEquals(await c.get("a"), "1");
  assertEquals(await c.get("b"), null);
  now = 50;
  assertEquals(await c.get("a"), "1");
  assertEquals(await c.get("b"), null);
  assertEquals(inner.calls, 2);
  now = 150;
  await c.get("a");
  await c.get("b");
  assertEquals(inner.calls, 3);
  now = 1200;
  await c.get("a");
  assertEquals(inner.calls, 4);
  assertEquals(c.stats, { hits: 3, misses: 4, errors: 0 });
});

Deno.test("lookup cache never caches errors and counts them", async () => {
  const inner = counting({ a: "1" });
  const c = new CachedLookup(inner, { ttl: 1000 });
  inner.fail = true;
  await assertRejects(() => c.get("a"), LookupDeferError);
  inner.fail = false;
  assertEquals(await c.get("a"), "1");
  assertEquals(c.stats, { hits: 0, misses: 2, errors: 1 });
});

Deno.test("lookup cache shares one fetch among concurrent callers and bounds its size", async () => {
  const inner = counting({ a: "1" });
  const c = new CachedLookup(inner, { ttl: 1000, maxEntries: 2 });
  await Promise.all([c.get("a"), c.get("a"), c.get("a")]);
  assertEquals(inner.calls, 1);
  await c.get("b");
  await c.get("c");
  await c.get("a");
  assertEquals(inner.calls, 4);
  const off = new CachedLookup(inner, { ttl: 0 });
  await off.get("a");
  await off.get("a");
  assertEquals(inner.calls, 6);
  assertEquals(off.members, undefined);
});

Deno.test("kv lookup stores strings and lists under [lookup, name, key]", async () => {
  const kv = await Deno.openKv(":memory:");
  const t = new KvLookup("relay_domains", new Keyspace(kv, "lookup"));
  await t.set("example.org", "yes");
  await t.set("team", ["a@example.org", "b@example.org"]);
  assertEquals((await kv.get(["lookup", "relay_domains", "example.org"])).value, "yes");
  assertEquals(await t.members("team"), ["a@example.org", "b@example.org"]);
  assertEquals(await t.get("team"), "a@example.org\nb@example.org");
  assertEquals(await t.list(), [["example.org", "yes"], ["team", "a@example.org,b@example.org"]]);
  assertEquals(await t.delete("example.org"), true);
  assertEquals(await t.delete("example.org"), false);
  assertEquals(await t.get("example.org"), null);
  kv.close();
  await assertRejects(() => t.get("x"), LookupDeferError, "KV read failed");
});

Deno.test("dnsbl names reverse IPv4 octets and IPv6 nibbles", () => {
  assertEquals(dnsblName("zen.example", "192.0.2.1"), "1.2.0.192.zen.example");
  assertEquals(
    dnsblName("bl.example.", "2001:db8::1"),
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example",
  );
  assertEquals(dnsblName("zen.example", "1.2.3.4.evil.example"), null);
});

Deno.test("dnsbl lists 127/8 answers, ignores 127.255.255.x errors, defers on failure", async () => {
  const answers: Record<string, string[]> = {
    "2.0.0.127.bl.example": ["127.0.0.2"],
    "1.2.0.192.bl.example": ["127.255.255.254"],
  };
  let fail = false;
  const resolver: DnsResolver = {
    resolve(name) {
      if (fail) return Promise.reject(new LookupDeferError("SERVFAIL"));
      return Promise.resolve(answers[name] ?? null);
    },
  };
  assertEquals(await dnsbl(resolver, "bl.example", "127.0.0.2"), true);
  assertEquals(await dnsbl(resolver, "bl.example", "192.0.2.1"), false);
  assertEquals(await dnsbl(resolver, "bl.example", "192.0.2.9"), false);
  const table = new DnsLookup({
    name: "bl",
    type: "A",
    zone: "bl.example",
    reverseIP: true,
    resolver,
  });
  assertEquals(await table.get("127.0.0.2"), "127.0.0.2");
  fail = true;
  await assertRejects(() => dnsbl(resolver, "bl.example", "127.0.0.2"), LookupDeferError);
});

Deno.test("the lookup schema's output opens through openLookups", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/domains`, "example.org: local\n");
  const tables = lookupsSchema.parse({
    domains: { driver: "file", path: `${dir}/domains`, cache_ttl: "5m", negative_ttl: "0s" },
    store: { driver: "kv" },
    cache_less: { driver: "dns", type: "A", zone: "bl.example", reverse_ip: true, cache_ttl: 0 },
  });
  assertEquals(tables.domains.cache_ttl, 300_000);
  const kv = await Deno.openKv(":memory:");
  const resolver = { resolve: () => Promise.resolve(null) };
  const registry = await openLookups(tables, { kv: new Keyspace(kv, "lookup"), resolver });
  assertEquals(registry.names(), ["domains", "store", "cache_less"]);
  assertEquals(await registry.require("domains").get("example.org"), "local");
  await assertRejects(() => openLookups(tables, { resolver }), LookupError, "needs the relay's KV");
  await assertRejects(
    () => openLookups(tables, { kv: new Keyspace(kv, "lookup") }),
    LookupError,
    "needs the relay's resolver",
  );
  await registry.close();
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the lookup schema rejects unknown drivers, keys and bad servers", () => {
  const bad = [
    { t: { driver: "ldap" } },
    { t: { driver: "file" } },
    { t: { driver: "file", path: "x", extra: 1 } },
    { t: { driver: "redis", servers: ["host:port:x"] } },
    { t: { driver: "redis", servers: [] } },
    { "bad name": { driver: "kv" } },
  ];
  for (const b of bad) assertEquals(lookupsSchema.safeParse(b).success, false, JSON.stringify(b));
  const ok = lookupsSchema.parse({
    r: { driver: "redis", servers: ["127.0.0.1:6379/1/pw"], command: "HGET domains" },
  });
  assertEquals(ok.r.driver === "redis" && ok.r.command, ["HGET", "domains"]);
});
