import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import { PYTHON3, requireProgram } from "./helpers/requirements.ts";
import {
  allowedReportAddresses,
  authenticationResults,
  checkDmarc,
  checkSpf,
  forensicReport,
  reportUris,
  verifyDkim,
} from "../lib/senderauth/mod.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";

const ZONE = [
  {
    name: "_dmarc.example.test",
    type: "TXT",
    data: "v=DMARC1; p=reject; ruf=mailto:f@example.test,mailto:x@sub.example.test," +
      "mailto:ext@reports.test,mailto:no@other.test,https://example.test/r",
  },
  { name: "example.test._report._dmarc.reports.test", type: "TXT", data: "v=DMARC1" },
  { name: "example.test", type: "TXT", data: "v=spf1 ip4:192.0.2.0/24 -all" },
];

/** Parses the report with Python's email package; prints the parts and some fields. */
async function pythonParts(report: Uint8Array): Promise<string> {
  const script = `
import sys, email
m = email.message_from_bytes(sys.stdin.buffer.read())
print(m.get_content_type(), m.get_param("report-type"))
for p in m.get_payload():
    print(p.get_content_type())
    if p.get_content_type() == "message/feedback-report":
        fields = p.get_payload()[0]  # the fields parse as the header of an inner message
        for k in ("Feedback-Type", "Source-IP", "Reported-Domain", "Auth-Failure"):
            print(k + ": " + fields[k])
`;
  const child = new Deno.Command(requireProgram(PYTHON3, "python3"), {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(report);
  await w.close();
  return new TextDecoder().decode((await child.output()).stdout).trim();
}

Deno.test("failure reports go only to ruf= addresses the policy domain may use", async () => {
  const dns = await TestDnsServer.start(ZONE);
  try {
    const resolver = new Resolver({ servers: [dns.address], timeout: 2000, attempts: 1 });
    const message = new TextEncoder().encode(
      "From: Alice <alice@example.test>\r\nSubject: hi\r\n\r\nsecret body\r\n",
    );
    const spf = await checkSpf({
      ip: "198.51.100.7",
      sender: "alice@example.test",
      helo: "h.test",
      hostname: "relay.local",
      resolver,
    });
    const dkim = await verifyDkim(message, { resolver });
    const dmarc = await checkDmarc({
      resolver,
      headerFrom: dkim.headerFrom,
      spf,
      dkim: dkim.results,
    });
    assertEquals(dmarc.status, "reject");
    const to = await allowedReportAddresses(
      dmarc.used_domain,
      reportUris(dmarc.record).ruf,
      resolver,
    );
    assertEquals(to, ["f@example.test", "x@sub.example.test", "ext@reports.test"]);
    const report = forensicReport({
      from: "dmarc@relay.local",
      to,
      hostname: "relay.local",
      message,
      ip: "198.51.100.7",
      mailFrom: "alice@example.test",
      dmarc,
      authResults: authenticationResults("relay.local", { spf, dkim, dmarc }),
    });
    const text = new TextDecoder().decode(report);
    assertMatch(text, /\r\nIdentity-Alignment: none\r\n/);
    assertEquals(text.includes("secret body"), false);
    assertEquals(
      await pythonParts(report),
      [
        "multipart/report feedback-report",
        "text/plain",
        "message/feedback-report",
        "Feedback-Type: auth-failure",
        "Source-IP: 198.51.100.7",
        "Reported-Domain: example.test",
        "Auth-Failure: dmarc",
        "text/rfc822-headers",
      ].join("\n"),
    );
  } finally {
    dns.close();
  }
});
