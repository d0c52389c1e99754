import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { byPreference, DnsError, resolveMxHosts, Resolver } from "../lib/dns/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

const mx = (name: string, preference: number, exchange: string) => ({
  name,
  type: "MX",
  data: { preference, exchange },
});

async function withDns(
  records: Parameters<typeof TestDnsServer.start>[0],
  fn: (r: Resolver, dns: TestDnsServer) => Promise<void>,
): Promise<void> {
  const dns = await TestDnsServer.start(records);
  try {
    await fn(new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 }), dns);
  } finally {
    dns.close();
  }
}

Deno.test("resolveMxHosts orders MX by preference with IPv4 and IPv6 addresses", async () => {
  await withDns([
    mx("example.test", 20, "mx2.example.test"),
    mx("example.test", 10, "mx1.example.test"),
    { name: "mx1.example.test", type: "A", data: "192.0.2.1" },
    { name: "mx1.example.test", type: "AAAA", data: "2001:db8::1" },
    { name: "mx2.example.test", type: "A", data: "192.0.2.2" },
  ], async (r) => {
    const hosts = await resolveMxHosts(r, "Example.Test");
    assertEquals(hosts.map((h) => [h.name, h.preference, h.addresses]), [
      ["mx1.example.test", 10, ["192.0.2.1", "2001:db8::1"]],
      ["mx2.example.test", 20, ["192.0.2.2"]],
    ]);
    const v6 = await resolveMxHosts(r, "example.test", { preferIPv6: true });
    assertEquals(v6[0].addresses, ["2001:db8::1", "192.0.2.1"]);
  });
});

Deno.test("byPreference shuffles only among equal preferences", () => {
  const recs = [{ preference: 5, n: "a" }, { preference: 1, n: "b" }, { preference: 5, n: "c" }];
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const out = byPreference(recs);
    assertEquals(out[0].n, "b");
    seen.add(out.map((x) => x.n).join(""));
  }
  assertEquals(seen, new Set(["bac", "bca"]));
});

Deno.test("resolveMxHosts uses the domain's own address when it has no MX", async () => {
  await withDns([{ name: "plain.test", type: "A", data: "192.0.2.5" }], async (r) => {
    const hosts = await resolveMxHosts(r, "plain.test");
    assertEquals(hosts, [{
      name: "plain.test",
      preference: 0,
      implicit: true,
      addresses: ["192.0.2.5"],
      mxSecure: false,
      secure: false,
    }]);
  });
});

Deno.test("resolveMxHosts follows a CNAME to the exchanger's address", async () => {
  await withDns([
    mx("cn.test", 10, "alias.cn.test"),
    { name: "alias.cn.test", type: "CNAME", data: "real.cn.test" },
    { name: "real.cn.test", type: "A", data: "192.0.2.8" },
  ], async (r) => {
    assertEquals((await resolveMxHosts(r, "cn.test"))[0].addresses, ["192.0.2.8"]);
  });
});

Deno.test("resolveMxHosts fails permanently for null MX, NXDOMAIN and no address", async () => {
  await withDns([
    mx("nullmx.test", 0, "."),
    mx("noaddr.test", 10, "gone.noaddr.test"),
    { name: "gone.noaddr.test", type: "TXT", data: ["x"] },
  ], async (r) => {
    const e1 = await assertRejects(() => resolveMxHosts(r, "nullmx.test"), DnsError);
    assertEquals([(e1 as DnsError).failure, (e1 as DnsError).temporary], ["nullmx", false]);
    const e2 = await assertRejects(() => resolveMxHosts(r, "nowhere.test"), DnsError);
    assertEquals([(e2 as DnsError).failure, (e2 as DnsError).temporary], ["nxdomain", false]);
    const e3 = await assertRejects(() => resolveMxHosts(r, "noaddr.test"), DnsError);
    assertEquals([(e3 as DnsError).failure, (e3 as DnsError).temporary], ["noaddress", false]);
  });
});

Deno.test("resolveMxHosts defers on SERVFAIL, and skips a failing MX for a working one", async () => {
  await withDns([
    mx("part.test", 10, "bad.part.test"),
    mx("part.test", 20, "good.part.test"),
    { name: "good.part.test", type: "A", data: "192.0.2.4" },
  ], async (r, dns) => {
    dns.fault("sf.test", "MX", "servfail");
    dns.fault("bad.part.test", "*", "servfail");
    const e = await assertRejects(() => resolveMxHosts(r, "sf.test"), DnsError);
    assertEquals([(e as DnsError).failure, (e as DnsError).temporary], ["servfail", true]);
    assertEquals((await resolveMxHosts(r, "part.test")).map((h) => h.name), ["good.part.test"]);
  });
});
