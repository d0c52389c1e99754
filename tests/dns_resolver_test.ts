import { Buffer } from "node:buffer";
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { DnsError, parseResolvConf, Resolver, reverseName } from "../lib/dns/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

function resolverFor(server: TestDnsServer, extra: Record<string, unknown> = {}): Resolver {
  return new Resolver({ servers: [server.address], timeout: 2000, attempts: 1, ...extra });
}

Deno.test("resolver reads A, AAAA, TXT, PTR and TLSA records from a server", async () => {
  const dns = await TestDnsServer.start([
    { name: "host.test", type: "A", data: "192.0.2.1" },
    { name: "host.test", type: "AAAA", data: "2001:db8::1" },
    { name: "host.test", type: "TXT", data: ["v=spf1 ", "-all"] },
    { name: "1.2.0.192.in-addr.arpa", type: "PTR", data: "host.test" },
    {
      name: "_25._tcp.host.test",
      type: "TLSA",
      data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.from([1, 2, 3]) },
    },
  ]);
  try {
    const r = resolverFor(dns);
    assertEquals(await r.resolveA("host.test"), ["192.0.2.1"]);
    assertEquals(await r.resolveAAAA("HOST.test."), ["2001:db8::1"]);
    assertEquals(await r.resolveTxt("host.test"), ["v=spf1 -all"]);
    assertEquals(await r.resolvePtr("192.0.2.1"), ["host.test"]);
    const tlsa = await r.resolveTlsa("_25._tcp.host.test");
    assertEquals(tlsa.ad, false);
    assertEquals(tlsa.records[0].usage, 3);
    assertEquals([...tlsa.records[0].data], [1, 2, 3]);
  } finally {
    dns.close();
  }
});

Deno.test("resolver exposes the AD bit", async () => {
  const dns = await TestDnsServer.start([{ name: "a.test", type: "A", data: "192.0.2.9" }]);
  dns.ad = true;
  try {
    const res = await resolverFor(dns).lookup("a.test", "A");
    assertEquals(res.ad, true);
    assertEquals(res.rcode, "NOERROR");
  } finally {
    dns.close();
  }
});

Deno.test("resolver believes AD only from servers trusted to validate", async () => {
  const dns = await TestDnsServer.start([{ name: "a.test", type: "A", data: "192.0.2.9" }]);
  dns.ad = true;
  try {
    // Loopback servers are trusted by default; a list that omits the server is not.
    const other = resolverFor(dns, { dnssecTrusted: ["192.0.2.53"] });
    assertEquals((await other.lookup("a.test", "A")).ad, false);
    const listed = resolverFor(dns, { dnssecTrusted: [dns.address] });
    assertEquals((await listed.lookup("a.test", "A")).ad, true);
  } finally {
    dns.close();
  }
});

Deno.test("resolver carries AD on NXDOMAIN and NODATA (authenticated denial)", async () => {
  const dns = await TestDnsServer.start([{ name: "a.test", type: "A", data: "192.0.2.9" }]);
  dns.ad = true;
  try {
    const r = resolverFor(dns);
    const tlsa = await r.resolveTlsa("_25._tcp.missing.test");
    assertEquals([tlsa.rcode, tlsa.ad, tlsa.records.length], ["NXDOMAIN", true, 0]);
    const nodata = await r.resolveTlsa("a.test");
    assertEquals([nodata.rcode, nodata.ad, nodata.records.length], ["NOERROR", true, 0]);
    const e = await assertRejects(() => r.resolveA("missing.test"), DnsError);
    assertEquals((e as DnsError).ad, true);
  } finally {
    dns.close();
  }
});

Deno.test("resolver follows CNAME chains, in one answer and across queries", async () => {
  const dns = await TestDnsServer.start([
    { name: "alias.test", type: "CNAME", data: "middle.test" },
    { name: "middle.test", type: "CNAME", data: "real.test" },
    { name: "real.test", type: "A", data: "192.0.2.7" },
  ]);
  try {
    const res = await resolverFor(dns).lookup("alias.test", "A");
    assertEquals(res.canonicalName, "real.test");
    assertEquals(res.records.map((r) => r.data), ["192.0.2.7"]);
  } finally {
    dns.close();
  }
});

Deno.test("resolver tells NXDOMAIN (permanent) from SERVFAIL and timeout (temporary)", async () => {
  const dns = await TestDnsServer.start([{ name: "ok.test", type: "A", data: "192.0.2.1" }]);
  dns.fault("broken.test", "A", "servfail");
  dns.fault("slow.test", "A", "drop");
  dns.fault("refusing.test", "*", "refused");
  try {
    const r = resolverFor(dns);
    const nx = await r.lookup("missing.test", "A");
    assertEquals(nx.rcode, "NXDOMAIN");
    const e1 = await assertRejects(() => r.resolveA("missing.test"), DnsError);
    assertEquals([(e1 as DnsError).failure, (e1 as DnsError).temporary], ["nxdomain", false]);
    const e2 = await assertRejects(() => r.resolveA("broken.test"), DnsError);
    assertEquals([(e2 as DnsError).failure, (e2 as DnsError).temporary, (e2 as DnsError).rcode], [
      "servfail",
      true,
      "SERVFAIL",
    ]);
    const quick = resolverFor(dns, { timeout: 300 });
    const e3 = await assertRejects(() => quick.resolveA("slow.test"), DnsError);
    assertEquals([(e3 as DnsError).failure, (e3 as DnsError).temporary], ["timeout", true]);
    const e4 = await assertRejects(() => r.resolveA("refusing.test"), DnsError);
    assertEquals([(e4 as DnsError).failure, (e4 as DnsError).temporary], ["refused", true]);
    assertEquals(await r.resolveAAAA("ok.test"), []); // NODATA is an empty answer
  } finally {
    dns.close();
  }
});

Deno.test("resolver refuses names over RFC 1035 limits at once as no such name", async () => {
  const dns = await TestDnsServer.start([{ name: "ok.test", type: "A", data: "192.0.2.1" }]);
  // Sent, such a name got an answer the resolver could not decode: it waited out 2 × 5 s.
  try {
    const r = new Resolver({ servers: [dns.address], timeout: 5000, attempts: 2 });
    const longLabel = "a".repeat(64) + ".example.test";
    const longName = Array(8).fill("b".repeat(40)).join(".") + ".example.test"; // 341 octets

    for (const name of [longLabel, longName, "a..example.test"]) {
      assertEquals((await r.lookup(name, "TXT")).rcode, "NXDOMAIN");
      const e = await assertRejects(() => r.resolveA(name), DnsError);
      assertEquals([(e as DnsError).failure, (e as DnsError).temporary], ["nxdomain", false]);
    }
    assertEquals(dns.queries, []);
    // The limits themselves are allowed: a 63-octet label is asked for.
    await assertRejects(() => r.resolveA("c".repeat(63) + ".test"), DnsError);
    assertEquals(dns.queries.length, 1);
  } finally {
    dns.close();
  }
});

Deno.test("resolver retries over TCP when the UDP answer is truncated", async () => {
  const dns = await TestDnsServer.start([{
    name: "big.test",
    type: "TXT",
    data: ["x".repeat(200)],
  }]);
  dns.fault("big.test", "TXT", "truncate");
  try {
    assertEquals(await resolverFor(dns).resolveTxt("big.test"), ["x".repeat(200)]);
    assertEquals(dns.queries, ["TXT big.test", "TXT big.test/tcp"]);
  } finally {
    dns.close();
  }
});

Deno.test("resolver caches answers for their TTL and skips a dead server", async () => {
  const dns = await TestDnsServer.start([{
    name: "c.test",
    type: "A",
    ttl: 60,
    data: "192.0.2.3",
  }]);
  try {
    const r = new Resolver({ servers: ["127.0.0.1:9", dns.address], timeout: 1000, attempts: 1 });
    assertEquals(await r.resolveA("c.test"), ["192.0.2.3"]);
    assertEquals(await r.resolveA("c.test"), ["192.0.2.3"]);
    assertEquals(dns.queries.length, 1);
    const r1 = resolverFor(dns);
    await Promise.all([r1.resolveA("c.test"), r1.resolveA("c.test"), r1.resolveA("c.test")]);
    assertEquals(dns.queries.length, 2); // three concurrent lookups, one query
    const r0 = resolverFor(dns, { cache: false });
    await r0.resolveA("c.test");
    await r0.resolveA("c.test");
    assertEquals(dns.queries.length, 4);
  } finally {
    dns.close();
  }
});

Deno.test("parseResolvConf reads servers and options", () => {
  const conf = parseResolvConf(
    "# comment\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\noptions timeout:2 attempts:3\n",
  );
  assertEquals(conf.servers, ["10.0.0.1:53", "[fe80::1]:53"]);
  assertEquals([conf.timeout, conf.attempts], [2000, 3]);
});

Deno.test("reverseName builds in-addr.arpa and ip6.arpa names", () => {
  assertEquals(reverseName("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  assert(reverseName("2001:db8::1").startsWith("1.0.0.0."));
  assert(reverseName("2001:db8::1").endsWith(".8.b.d.0.1.0.0.2.ip6.arpa"));
});
