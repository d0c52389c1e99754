import { Keyspace } from "../lib/spool/mod.ts";
/**
 * Lookup and ACL costs: microseconds per lookup for each driver, uncached (the driver
 * itself) and cached (a CachedLookup hit), then the cost of a typical 10-rule rcpt ACL per
 * recipient. Real peers: redis-server on loopback, an LMDB file made by mdb_load.
 *
 * Run: deno run -A --unstable-kv bench/lookup.ts [--quick]
 *
 * @module
 */
import {
  CachedLookup,
  FileLookup,
  KvLookup,
  LmdbLookup,
  type Lookup,
  LookupRegistry,
  RedisLookup,
} from "../lib/lookup/mod.ts";
import {
  KvRateLimiter,
  makeContext,
  type PolicyContext,
  PolicyEngine,
  type RuleConfig,
  splitAddress,
} from "../lib/policy/mod.ts";
import { makeLmdb } from "../tests/helpers/lmdb.ts";
import { startRedis } from "../tests/helpers/redis.ts";

const QUICK = Deno.args.includes("--quick");
const KEYS = 1000;
const keys = Array.from({ length: KEYS }, (_, i) => `host${i}.example.org`);

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

async function timeIt(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(2000, n); i++) await fn(i); // warm up (JIT)
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return ((performance.now() - t0) * 1000) / n;
}

async function benchDriver(label: string, lookup: Lookup, n: number): Promise<void> {
  const raw = await timeIt(n, (i) => lookup.get(keys[i % KEYS]));
  const cached = new CachedLookup(lookup, { ttl: 3_600_000 });
  for (const k of keys) await cached.get(k);
  const hit = await timeIt(n * 5, (i) => cached.get(keys[i % KEYS]));
  const miss = await timeIt(n, (i) => lookup.get(`absent${i}.example.net`));
  print(
    `${label.padEnd(26)} ${raw.toFixed(1).padStart(9)} ${miss.toFixed(1).padStart(9)} ${
      hit.toFixed(2).padStart(9)
    }`,
  );
}

const RCPT_ACL: RuleConfig[] = [
  { deny: 'in_cidr(client.ip, ["198.51.100.0/24", "203.0.113.0/24"])' },
  { deny: 'in_list("blocked", sender.address)', message: "5.7.1 Sender blocked" },
  { deny: 'rcpt.local.startsWith("noreply-")' },
  { warn: 'spf.result == "softfail"', add_header: ["X-SPF: softfail"] },
  { deny: 'client.helo == "" || client.helo == "localhost"' },
  {
    deny: "sender.domain == rcpt.domain && !authenticated && " +
      "!in_cidr(client.ip, relay.trusted_networks)",
  },
  { warn: "message.size > 10000000", set: { m_big: "true" } },
  { accept: "authenticated" },
  { accept: 'in_list("relay_domains", rcpt.domain)' },
  { deny: "true", message: "5.7.1 Relay access denied" },
];

async function benchAcl(
  label: string,
  lookups: LookupRegistry,
  n: number,
  extra: { ratelimiter?: KvRateLimiter } = {},
  rules = RCPT_ACL,
) {
  const engine = PolicyEngine.create({ lookups, acl: { rcpt: rules }, ...extra });
  const base = makeContext({
    client: { ip: "192.0.2.10", helo: "mail.sender.example" },
    sender: splitAddress("alice@sender.example"),
    relay: { domains: [], trusted_networks: ["127.0.0.0/8"] },
  });
  const ctxs: PolicyContext[] = keys.map((k) => ({ ...base, rcpt: splitAddress(`bob@${k}`) }));
  const d = await engine.evaluateStage("rcpt", ctxs[0]);
  if (d.verb !== "accept") throw new Error(`ACL gave ${d.verb}: ${JSON.stringify(d.trace)}`);
  const us = await timeIt(n, (i) => engine.evaluateStage("rcpt", ctxs[i % KEYS]));
  print(`${label.padEnd(52)} ${us.toFixed(1).padStart(8)} µs/recipient`);
}

async function main(): Promise<void> {
  const n = QUICK ? 500 : 5000;
  const dir = await Deno.makeTempDir({ prefix: "relay-bench-" });
  const redis = await startRedis();
  const kv = await Deno.openKv(":memory:");
  try {
    await Deno.writeTextFile(`${dir}/domains`, keys.map((k) => `${k}: relay`).join("\n") + "\n");
    const mdb = await makeLmdb(keys.map((k) => [k, "relay"]), { path: `${dir}/mdb` });
    const writer = new RedisLookup({ name: "w", servers: [redis.server()] });
    for (const k of keys) await writer.call(["SET", k, "relay"]);
    await writer.close();
    const kvTable = new KvLookup("domains", new Keyspace(kv, "lookup"));
    for (const k of keys) await kvTable.set(k, "relay");

    print(`lookup latency, µs per call (${n} calls, ${KEYS} keys; Deno ${Deno.version.deno})`);
    print(
      `${"driver".padEnd(26)} ${"uncached".padStart(9)} ${"absent".padStart(9)} ${
        "cached".padStart(9)
      }`,
    );
    const file = await FileLookup.open({ name: "domains", path: `${dir}/domains` });
    await benchDriver("file (wildcard, 1 s stat)", file, n);
    const lmdb = LmdbLookup.open({ name: "domains", path: mdb });
    await benchDriver("lmdb (FFI liblmdb.so.0)", lmdb, n);
    const red = new RedisLookup({ name: "domains", servers: [redis.server()] });
    await benchDriver("redis (GET, loopback)", red, n);
    await benchDriver("kv (Deno KV, in memory)", kvTable, n);
    const pipelined = await timeIt(
      n / 50,
      (i) =>
        Promise.all(keys.slice((i * 50) % KEYS, ((i * 50) % KEYS) + 50).map((k) => red.get(k))),
    );
    print(`redis, 50 concurrent lookups pipelined: ${(pipelined / 50).toFixed(1)} µs per lookup`);

    print("\nrcpt ACL of 10 rules (2 lookups, 2 in_cidr, warn, set), per recipient:");
    const blocked = new CachedLookup(
      await FileLookup.open({ name: "blocked", path: `${dir}/domains`, mode: "exact" }),
    );
    const relayFile = await FileLookup.open({ name: "relay_domains", path: `${dir}/domains` });
    const withFile = new LookupRegistry();
    withFile.add(blocked.inner);
    withFile.add(relayFile);
    await benchAcl("file tables, cached (typical)", withFile, n);
    const uncachedFile = new LookupRegistry();
    uncachedFile.add(blocked.inner, { cache_ttl: 0 });
    uncachedFile.add(relayFile, { cache_ttl: 0 });
    await benchAcl("file tables, no cache", uncachedFile, n);
    const withLmdb = new LookupRegistry();
    withLmdb.add(blocked.inner, { cache_ttl: 0 });
    withLmdb.add(new LmdbRenamed(lmdb), { cache_ttl: 0 });
    await benchAcl("lmdb relay_domains, no cache", withLmdb, n);
    const withRedis = new LookupRegistry();
    withRedis.add(new RedisLookup({ name: "blocked", servers: [redis.server()] }), {
      cache_ttl: 0,
    });
    withRedis.add(new RedisLookup({ name: "relay_domains", servers: [redis.server()] }), {
      cache_ttl: 0,
    });
    await benchAcl("redis tables, no cache (2 round trips)", withRedis, n / 5);
    await benchAcl(
      "file tables cached + ratelimit() in KV (11th rule)",
      withFile,
      n / 5,
      { ratelimiter: new KvRateLimiter(new Keyspace(kv, "ratelimit")) },
      [{ defer: 'ratelimit(client.ip, "100000000/1h")' }, ...RCPT_ACL],
    );
    await withRedis.close();
    lmdb.close();
    await red.close();
  } finally {
    kv.close();
    await redis.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

// The LMDB table under the name the ACL uses.
class LmdbRenamed implements Lookup {
  readonly name = "relay_domains";
  readonly driver = "lmdb";
  #inner: LmdbLookup;
  constructor(inner: LmdbLookup) {
    this.#inner = inner;
  }
  get(key: string) {
    return this.#inner.get(key);
  }
  close() {}
}

if (import.meta.main) await main();
