import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import { PYTHON3, requireProgram } from "./helpers/requirements.ts";
import {
  aggregateReports,
  checkDmarc,
  checkSpf,
  dmarcHistoryEntry,
  gzipText,
  reportUris,
  verifyDkim,
} from "../lib/senderauth/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

const MESSAGE = new TextEncoder().encode(
  "From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\nHello\r\n",
);

/** Parses the XML with Python's parser and returns selected fields, one per line. */
async function pythonFields(xml: string): Promise<string> {
  const script = `
import sys, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.buffer.read())
print(r.findtext("policy_published/domain"), r.findtext("policy_published/p"))
for rec in r.findall("record"):
    print(rec.findtext("row/source_ip"), rec.findtext("row/count"),
        rec.findtext("row/policy_evaluated/disposition"), rec.findtext("auth_results/spf/result"))
`;
  const child = new Deno.Command(requireProgram(PYTHON3, "python3"), {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(xml));
  await w.close();
  const out = await child.output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("messages under a policy become aggregate report rows, counted per source", async () => {
  const dns = await TestDnsServer.start([
    {
      name: "_dmarc.example.test",
      type: "TXT",
      data:
        "v=DMARC1; p=reject; pct=50; rua=mailto:agg@example.test!10m, mailto:b@x.test; ruf=mailto:f@example.test",
    },
    { name: "example.test", type: "TXT", data: "v=spf1 ip4:192.0.2.0/24 -all" },
    { name: "norec.test", type: "A", data: "192.0.2.1" },
  ]);
  try {
    const resolver = new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 });
    const dkim = await verifyDkim(MESSAGE, { resolver });
    const entries = [];
    for (const ip of ["192.0.2.1", "192.0.2.1", "198.51.100.1"]) {
      const spf = await checkSpf({
        ip,
        sender: "alice@example.test",
        helo: "h.test",
        hostname: "relay.local",
        resolver,
      });
      const dmarc = await checkDmarc({
        resolver,
        headerFrom: dkim.headerFrom,
        spf,
        dkim: dkim.results,
      });
      entries.push(dmarcHistoryEntry({ ip, spf, dkim, dmarc, now: new Date(0) })!);
    }
    assertEquals(entries.map((e) => e.disposition), ["none", "none", "reject"]);
    assertEquals(entries[0].published.pct, 50);
    const none = await checkDmarc({ resolver, headerFrom: ["a@norec.test"] });
    assertEquals(
      dmarcHistoryEntry({
        ip: "192.0.2.1",
        spf: await checkSpf({
          ip: "192.0.2.1",
          sender: "a@norec.test",
          helo: "h",
          hostname: "r",
          resolver,
        }),
        dkim,
        dmarc: none,
      }),
      null,
    );
    const [report] = aggregateReports(entries, {
      orgName: "Relay & Co",
      email: "postmaster@relay.local",
      receiver: "relay.local",
      reportId: "r1",
      begin: new Date(0),
      end: new Date(86_400_000),
    });
    assertEquals(report.domain, "example.test");
    assertEquals(report.rua, ["mailto:agg@example.test", "mailto:b@x.test"]);
    assertEquals(report.filename, "relay.local!example.test!0!86400.xml");
    assertMatch(report.xml, /<org_name>Relay &#38; Co<\/org_name>/);
    assertEquals(
      await pythonFields(report.xml),
      "example.test reject\n192.0.2.1 2 none pass\n198.51.100.1 1 reject fail",
    );
    const gz = await gzipText(report.xml);
    assertEquals([gz[0], gz[1]], [0x1f, 0x8b]);
    assertEquals(reportUris("v=DMARC1; p=none; ruf=mailto:f@x.test").ruf, ["mailto:f@x.test"]);
  } finally {
    dns.close();
  }
});
