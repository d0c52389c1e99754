/**
 * SPF, DKIM and DMARC inside real SMTP sessions: a trusted client's mail is DKIM-signed by
 * one relay; a second relay, for which the client is a stranger, checks SPF, DKIM and DMARC
 * over real DNS queries (the test DNS server) and lets ACLs act on the results.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";
import { TestDnsServer, type ZoneRecord } from "./helpers/dns_server.ts";
import { keyRecord, makeDkimKey } from "./helpers/dkim_keys.ts";
import { dmarcReports, queueReport } from "../lib/cli/mod.ts";
import { gzipText } from "../lib/senderauth/mod.ts";

const txt = (name: string, data: string): ZoneRecord => ({ name, type: "TXT", data });

async function send(port: number, sender: string, message: string): Promise<string> {
  const py = await python(
    `
import smtplib, os, sys
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo("sender.test")
try:
    s.sendmail(os.environ["FROM"], ["u@inbound.test"], os.environ["MSG"].encode())
    print("250")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
except smtplib.SMTPSenderRefused as e:
    print(e.smtp_code, e.smtp_error.decode())
`,
    { PORT: String(port), FROM: sender, MSG: message },
  );
  assert(py.code === 0, py.stderr);
  return py.stdout.trim();
}

Deno.test({
  name: "DKIM-signed by one relay, SPF/DKIM/DMARC checked by another; ACLs act on the results",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const key = makeDkimKey("rsa");
    const dir = await Deno.makeTempDir({ prefix: "relay-dkim-" });
    await Deno.writeTextFile(`${dir}/key.pem`, key.pem);
    const dns = await TestDnsServer.start([
      keyRecord("s1._domainkey.signed.test", key.record),
      keyRecord("arc1._domainkey.inbound.test", key.record),
      txt("signed.test", "v=spf1 ip4:127.0.0.1 -all"),
      txt("_dmarc.signed.test", "v=DMARC1; p=reject; rua=mailto:reports@signed.test"),
      txt("spf-fail.test", "v=spf1 ip4:192.0.2.1 -all"),
      txt("strict.test", "v=spf1 -all"),
      txt("_dmarc.strict.test", "v=DMARC1; p=reject; ruf=mailto:forensic@strict.test"),
      txt("other.test", "v=spf1 ip4:127.0.0.1 -all"),
    ]);
    const dnsToml = `[dns]\nservers = ["${dns.address}"]\nattempts = 1\ntimeout = "2s"\n`;
    // The outbound relay: 127.0.0.1 is trusted, so it signs for signed.test.
    const outbound = await startRelay(
      dnsToml +
        `[[dkim.sign]]\ndomain = "signed.test"\nselector = "s1"\nkey_file = "${dir}/key.pem"\n`,
    );
    // The inbound relay: everyone is a stranger; ACLs enforce SPF and DMARC.
    const inbound = await startRelay(
      dnsToml + `
[server]
trusted_networks = []
local_domains = ["inbound.test"]
[arc]
seal_domain = "inbound.test"
seal_selector = "arc1"
seal_key_file = "${dir}/key.pem"
[dmarc]
history = true
forensic_sender = "dmarc-reports@inbound.test"
[[acl.mail]]
deny = 'spf.result == "fail"'
message = "550 5.7.23 SPF check failed for {sender.domain}"
[[acl.rcpt]]
warn = 'spf("someone@other.test", "127.0.0.1") == "pass" && spf("spf-fail.test", "::1") == "fail"'
add_header = "X-SPF-Function: pass and fail"
[[acl.data]]
warn = 'arc.result == "none" && dkim.result == "pass"'
add_header = "X-Checked: arc none, dkim pass"
[[acl.data]]
warn = 'dmarc.result == "fail"'
set = { m_dmarc_forensic = "true" }
[[acl.data]]
deny = 'dmarc.status == "reject" && !authenticated'
message = "550 5.7.1 DMARC policy of {dmarc.used_domain} rejects this message"
`,
    );
    try {
      const original =
        "From: Alice <alice@signed.test>\r\nTo: u@inbound.test\r\nSubject: signed\r\n\r\nHello\r\n";
      assertEquals(await send(outbound.port, "alice@signed.test", original), "250");
      const [m] = await outbound.messages();
      const signed = await outbound.body(m.id);
      assertMatch(signed, /^DKIM-Signature: v=1; a=rsa-sha256; [^]*d=signed\.test;[^]*s=s1;/);

      // The signed message, relayed to the second relay: everything passes.
      assertEquals(await send(inbound.port, "alice@signed.test", signed), "250");
      const [got] = await inbound.messages();
      const body = await inbound.body(got.id);
      assertMatch(body, /Received-SPF: pass /);
      const results = /Authentication-Results: relay\.test;[^]*?\r\n(?=\S)/.exec(body)?.[0] ?? "";
      assertMatch(results, /spf=pass /);
      // Sealed as a forwarder (RFC 8617): instance 1, nothing to verify before us.
      assertMatch(body, /^ARC-Seal: i=1; a=rsa-sha256; [^]*cv=none; d=inbound\.test; s=arc1;/m);
      assertMatch(body, /^ARC-Message-Signature: i=1;/m);
      assertMatch(body, /^ARC-Authentication-Results: i=1; relay\.test;/m);
      assertMatch(body, /\r\nX-Checked: arc none, dkim pass\r\n/);
      assertMatch(body, /\r\nX-SPF-Function: pass and fail\r\n/);
      assertMatch(results, /dkim=pass header\.i=@signed\.test header\.s=s1/);
      assertMatch(results, /dmarc=pass .*header\.from=signed\.test/);

      // SPF fail at MAIL FROM: the ACL refuses.
      assertMatch(
        await send(inbound.port, "bob@spf-fail.test", original),
        /^550 5\.7\.23 SPF check failed for spf-fail\.test/,
      );
      // SPF passes for other.test but From: is strict.test (p=reject, no DKIM): DMARC rejects.
      const forged =
        "From: ceo@strict.test\r\nTo: u@inbound.test\r\nSubject: wire money\r\n\r\nNow\r\n";
      assertMatch(
        await send(inbound.port, "bounce@other.test", forged),
        /^550 5\.7\.1 DMARC policy of strict\.test rejects/,
      );
      const kept = await inbound.messages();
      const accepted = kept.filter((m) => m.listener !== "dmarc-forensic");
      assertEquals(accepted.length, 1, "only the signed message was accepted");
      // The rejected forgery still produced a failure report, to the ruf= address only.
      const forensic = kept.find((m) => m.listener === "dmarc-forensic")!;
      assertEquals(forensic.sender, "dmarc-reports@inbound.test");
      assertEquals(forensic.recipients.map((r) => r.address), ["forensic@strict.test"]);
      assertMatch(
        await inbound.body(forensic.id),
        /multipart\/report; report-type=feedback-report/,
      );
      // The aggregate report for signed.test counts the passing message (RFC 7489 7.2).
      const [report] = await dmarcReports(inbound.spool, inbound.config, 0);
      assertEquals(report.domain, "signed.test");
      assertEquals(report.rua, ["mailto:reports@signed.test"]);
      assertMatch(report.xml, /<source_ip>127\.0\.0\.1<\/source_ip>\s*<count>1<\/count>/);
      assertMatch(report.xml, /<dkim>pass<\/dkim>\s*<spf>pass<\/spf>/);
      const id = await queueReport(
        inbound.spool,
        inbound.config,
        report,
        await gzipText(report.xml),
      );
      const queued = (await inbound.messages()).find((m) => m.id === id)!;
      assertEquals(queued.recipients.map((r) => r.address), ["reports@signed.test"]);
      assertMatch(
        await inbound.body(id!),
        /Content-Type: application\/gzip; name="relay\.test!signed\.test!/,
      );
      assert(
        dns.queries.some((q) => /TXT s1\._domainkey\.signed\.test/.test(q)),
        dns.queries.join(","),
      );
    } finally {
      await outbound.close();
      await inbound.close();
      dns.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
