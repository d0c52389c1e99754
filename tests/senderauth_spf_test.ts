import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import { checkSpf, type SpfCheckOptions, spfFor } from "../lib/senderauth/mod.ts";
import { TestDnsServer, type ZoneRecord } from "./helpers/dns_server.ts";

const txt = (name: string, data: string): ZoneRecord => ({ name, type: "TXT", data });
const a = (name: string, data: string): ZoneRecord => ({ name, type: "A", data });

const includes = Array.from({ length: 11 }, (_, i) => `include:l${i}.limit.test`).join(" ");

const ZONE: ZoneRecord[] = [
  txt("ip.test", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"),
  txt("a.test", "v=spf1 a -all"),
  a("a.test", "192.0.2.10"),
  txt("mx.test", "v=spf1 mx -all"),
  { name: "mx.test", type: "MX", data: { preference: 10, exchange: "mail.mx.test" } },
  a("mail.mx.test", "198.51.100.20"),
  { name: "mail.mx.test", type: "AAAA", data: "2001:db8:1::20" },
  txt("inc.test", "v=spf1 include:ip.test ~all"),
  txt("exists.test", "v=spf1 exists:%{i}.allow.exists.test -all"),
  a("198.51.100.30.allow.exists.test", "127.0.0.2"),
  txt("redirect.test", "v=spf1 redirect=ip.test"),
  txt("ptr.test", "v=spf1 ptr -all"),
  { name: "40.100.51.198.in-addr.arpa", type: "PTR", data: "host.ptr.test" },
  a("host.ptr.test", "198.51.100.40"),
  txt("macro.test", "v=spf1 exists:%{l}.%{d}.users.macro.test -all"),
  a("alice.macro.test.users.macro.test", "127.0.0.2"),
  txt("limit.test", `v=spf1 ${includes} -all`),
  ...Array.from({ length: 11 }, (_, i) => txt(`l${i}.limit.test`, "v=spf1 ip4:10.9.9.9 -all")),
  txt(
    "void.test",
    "v=spf1 a:nx1.void.test a:nx2.void.test a:nx3.void.test ip4:198.51.100.0/24 -all",
  ),
  txt("soft.test", "v=spf1 ~all"),
  txt("neutral.test", "v=spf1 ?all"),
  txt("fail.test", "v=spf1 -all exp=explain.fail.test"),
  txt("explain.fail.test", "%{i} is not a mail server of %{d}"),
  txt("helo.test", "v=spf1 ip4:203.0.113.60 -all"),
  txt("servfail.test", "v=spf1 -all"),
  txt("bad.test", "v=spf1 ip4:not-an-ip -all"),
  a("nospf.test", "203.0.113.50"),
];

async function withDns(
  fn: (check: (o: Partial<SpfCheckOptions>) => ReturnType<typeof checkSpf>) => Promise<void>,
  dns?: TestDnsServer,
) {
  const server = dns ?? await TestDnsServer.start(structuredClone(ZONE));
  const resolver = new Resolver({ servers: [server.address], timeout: 2000, attempts: 1 });
  try {
    await fn((o) =>
      checkSpf({
        ip: "192.0.2.1",
        sender: "user@ip.test",
        helo: "client.example",
        hostname: "relay.local",
        resolver,
        ...o,
      })
    );
  } finally {
    server.close();
  }
}

Deno.test("checkSpf() gives pass, fail, softfail and neutral for ip4 and ip6", async () => {
  await withDns(async (check) => {
    assertEquals((await check({ ip: "192.0.2.99" })).result, "pass");
    assertEquals((await check({ ip: "2001:db8::5" })).result, "pass");
    assertEquals((await check({ ip: "198.51.100.1" })).result, "fail");
    assertEquals((await check({ ip: "2001:db9::1" })).result, "fail");
    assertEquals((await check({ sender: "x@soft.test" })).result, "softfail");
    assertEquals((await check({ sender: "x@neutral.test" })).result, "neutral");
  });
});

Deno.test("checkSpf() follows a, mx, include, exists, redirect and ptr", async () => {
  await withDns(async (check) => {
    assertEquals((await check({ sender: "u@a.test", ip: "192.0.2.10" })).result, "pass");
    assertEquals((await check({ sender: "u@a.test", ip: "192.0.2.11" })).result, "fail");
    assertEquals((await check({ sender: "u@mx.test", ip: "198.51.100.20" })).result, "pass");
    assertEquals((await check({ sender: "u@mx.test", ip: "2001:db8:1::20" })).result, "pass");
    assertEquals((await check({ sender: "u@mx.test", ip: "2001:db8:1::21" })).result, "fail");
    assertEquals((await check({ sender: "u@inc.test", ip: "192.0.2.7" })).result, "pass");
    assertEquals((await check({ sender: "u@inc.test", ip: "198.51.100.7" })).result, "softfail");
    assertEquals((await check({ sender: "u@exists.test", ip: "198.51.100.30" })).result, "pass");
    assertEquals((await check({ sender: "u@exists.test", ip: "198.51.100.31" })).result, "fail");
    assertEquals((await check({ sender: "u@redirect.test", ip: "192.0.2.8" })).result, "pass");
    assertEquals((await check({ sender: "u@ptr.test", ip: "198.51.100.40" })).result, "pass");
    assertEquals((await check({ sender: "u@ptr.test", ip: "198.51.100.41" })).result, "fail");
  });
});

Deno.test("checkSpf() expands macros and uses the domain's exp= text as smtp_comment", async () => {
  await withDns(async (check) => {
    assertEquals((await check({ sender: "alice@macro.test" })).result, "pass");
    assertEquals((await check({ sender: "bob@macro.test" })).result, "fail");
    const fail = await check({ sender: "u@fail.test", ip: "198.51.100.9" });
    assertEquals(fail.result, "fail");
    assertEquals(fail.smtp_comment, "198.51.100.9 is not a mail server of fail.test");
    assertMatch(fail.header_comment, /^relay\.local: domain of u@fail\.test does not designate/);
  });
});

Deno.test("checkSpf() gives permerror past 10 lookups, 2 void lookups or on a bad record", async () => {
  await withDns(async (check) => {
    const limit = await check({ sender: "u@limit.test", ip: "198.51.100.1" });
    assertEquals(limit.result, "permerror");
    assertMatch(limit.header_comment, /Too many DNS requests/);
    const voids = await check({ sender: "u@void.test", ip: "198.51.100.1" });
    assertEquals(voids.result, "permerror");
    assertMatch(voids.header_comment, /Too many void DNS results/);
    assertEquals((await check({ sender: "u@bad.test", ip: "198.51.100.1" })).result, "permerror");
  });
});

Deno.test("checkSpf() gives temperror when DNS fails (SERVFAIL)", async () => {
  const dns = await TestDnsServer.start(structuredClone(ZONE));
  dns.fault("servfail.test", "TXT", "servfail");
  await withDns(async (check) => {
    const r = await check({ sender: "u@servfail.test" });
    assertEquals(r.result, "temperror");
    assertEquals(r.guess, "temperror");
  }, dns);
});

Deno.test("checkSpf() gives none without a record, and guess evaluates the guess record", async () => {
  await withDns(async (check) => {
    const near = await check({ sender: "u@nospf.test", ip: "203.0.113.77" });
    assertEquals(near.result, "none");
    assertEquals(near.guess, "pass"); // a/24
    const far = await check({ sender: "u@nospf.test", ip: "198.51.100.77" });
    assertEquals(far.guess, "neutral"); // ?all
    const off = await check({ sender: "u@nospf.test", ip: "203.0.113.77", guess: false });
    assertEquals(off.guess, "none");
    const custom = await check({ sender: "u@nospf.test", guess: "v=spf1 -all" });
    assertEquals(custom.guess, "fail");
    assertEquals((await check({ ip: "192.0.2.3" })).guess, "pass"); // has a record: same result
  });
});

Deno.test("checkSpf() checks the HELO identity for the null sender", async () => {
  await withDns(async (check) => {
    const r = await check({ sender: "", helo: "helo.test", ip: "203.0.113.60" });
    assertEquals(r.result, "pass");
    assertEquals(r.identity, "helo");
    assertEquals(r.domain, "helo.test");
    assertEquals(
      (await check({ sender: "", helo: "helo.test", ip: "203.0.113.61" })).result,
      "fail",
    );
  });
});

Deno.test("checkSpf() writes a Received-SPF header and an Authentication-Results entry", async () => {
  await withDns(async (check) => {
    const r = await check({ ip: "192.0.2.99" });
    assertMatch(
      r.received,
      /^Received-SPF: pass \(relay\.local: domain of user@ip\.test designates/,
    );
    assertMatch(r.received, /client-ip=192\.0\.2\.99;/);
    assertMatch(r.received, /envelope-from="?user@ip\.test"?;/);
    assert(!r.received.endsWith("\n"));
    assertMatch(r.info, /^spf=pass .*smtp\.mailfrom=user@ip\.test/);
  });
});

Deno.test("spfFor() gives the result for any address or domain and IP, v4 and v6", async () => {
  const dns = await TestDnsServer.start(structuredClone(ZONE));
  const resolver = new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 });
  try {
    const opts = { resolver, hostname: "relay.local" };
    assertEquals(await spfFor("x@ip.test", "2001:db8::9", opts), "pass");
    assertEquals(await spfFor("ip.test", "192.0.2.9", opts), "pass");
    assertEquals(await spfFor("x@mx.test", "2001:db8:1::21", opts), "fail");
    assertEquals(await spfFor("x@nospf.test", "203.0.113.50", opts), "none");
  } finally {
    dns.close();
  }
});
