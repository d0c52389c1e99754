// dnsbl() and dns tables through the relay's resolver against the project's test DNS server.
import { Resolver } from "../lib/dns/mod.ts";
import { DnsLookup, LookupRegistry } from "../lib/lookup/mod.ts";
import { makeContext, PolicyEngine, relayResolver } from "../lib/policy/mod.ts";
import { assertEquals } from "./helpers/assert.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

Deno.test("dnsbl() denies listed clients, passes others, defers on SERVFAIL", async () => {
  const server = await TestDnsServer.start([
    { name: "2.0.0.127.bl.test", type: "A", data: "127.0.0.2" },
    { name: "2.0.0.127.bl.test", type: "TXT", data: "listed: see https://bl.test" },
    { name: "1.2.0.192.err.test", type: "A", data: "127.255.255.254" },
    { name: "policy.example.org", type: "TXT", data: "v=relay1" },
  ]);
  const resolver = relayResolver(
    new Resolver({
      servers: [`127.0.0.1:${server.port}`],
      timeout: 500,
      attempts: 1,
      cache: false,
    }),
  );
  const lookups = new LookupRegistry();
  lookups.add(new DnsLookup({ name: "bl_txt", zone: "bl.test", reverseIP: true, resolver }), {
    cache_ttl: 0,
  });
  lookups.add(new DnsLookup({ name: "txt", resolver }), { cache_ttl: 0 });
  const engine = PolicyEngine.create({
    lookups,
    resolver,
    acl: {
      connect: [
        {
          deny: 'dnsbl("bl.test", client.ip) || dnsbl("err.test", client.ip)',
          message: "554 5.7.1 {client.ip} listed: {vars.why}",
          set: { why: 'lookup("bl_txt", client.ip)' },
        },
        { warn: 'lookup("txt", "policy.example.org") == "v=relay1"', add_header: ["X-P: 1"] },
      ],
    },
  });
  const connect = (ip: string) => engine.evaluateStage("connect", makeContext({ client: { ip } }));
  try {
    const listed = await connect("127.0.0.2");
    assertEquals([listed.verb, listed.code, listed.message], [
      "deny",
      554,
      "127.0.0.2 listed: listed: see https://bl.test",
    ]);
    const clean = await connect("192.0.2.1");
    assertEquals([clean.verb, clean.headers], ["accept", ["X-P: 1"]]);
    server.fault("3.2.0.192.bl.test", "A", "servfail");
    const broken = await connect("192.0.2.3");
    assertEquals([broken.verb, broken.code, broken.enhanced], ["defer", 451, "4.3.0"]);
    assertEquals(server.queries.includes("A 2.0.0.127.bl.test"), true);
  } finally {
    server.close();
  }
});
