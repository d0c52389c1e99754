/**
 * SPF and DMARC rules fail closed: when the check ends in temperror (DNS silent, SERVFAIL,
 * a closed port) a deny rule reading its result defers instead of letting the mail through,
 * unless `on_temperror = "continue"`. Real sessions (Python smtplib) against a relay that
 * asks the test DNS server.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { startRelay, type TestRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";
import { TestDnsServer, type ZoneRecord } from "./helpers/dns_server.ts";

const txt = (name: string, data: string): ZoneRecord => ({ name, type: "TXT", data });

/** One message through smtplib; prints "250" or the first refusal's code and text. */
async function send(port: number, sender: string, from: string): Promise<string> {
  const py = await python(
    `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=20)
s.ehlo("sender.test")
msg = "From: <%s>\\r\\nTo: u@inbound.test\\r\\nSubject: t\\r\\n\\r\\nHello\\r\\n" % os.environ["HFROM"]
try:
    s.sendmail(os.environ["FROM"], ["u@inbound.test"], msg.encode())
    print("250")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print(code, text.decode())
`,
    { PORT: String(port), FROM: sender, HFROM: from },
  );
  if (py.code !== 0) throw new Error(py.stderr);
  return py.stdout.trim();
}

function relayFor(servers: string[], extra = ""): Promise<TestRelay> {
  return startRelay(`
[dns]
servers = ${JSON.stringify(servers)}
attempts = 1
timeout = "400ms"
cache = false
[server]
trusted_networks = []
local_domains = ["inbound.test"]
[spf]
timeout = "3s"
${extra}
[[acl.mail]]
deny = 'spf.result == "fail"'
message = "550 5.7.23 SPF check failed for {sender.domain}"
[[acl.data]]
deny = 'dmarc.status == "reject"'
message = "550 5.7.1 DMARC policy rejects this message"
`);
}

Deno.test({
  name: "SPF and DMARC deny rules defer when the check ends in temperror, unless continue",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dns = await TestDnsServer.start([
      txt("spf-fail.test", "v=spf1 ip4:192.0.2.1 -all"),
      txt("ok.test", "v=spf1 ip4:127.0.0.1 -all"),
      txt("_dmarc.dm.test", "v=DMARC1; p=reject"),
      txt("dm.test", "v=spf1 -all"),
    ]);
    // A port nothing listens on: every query is refused by the kernel at once.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = closed.addr.port;
    closed.close();
    const relays: TestRelay[] = [];
    try {
      const up = await relayFor([dns.address]);
      const closedDns = await relayFor([`127.0.0.1:${closedPort}`]);
      const lenient = await relayFor(
        [dns.address],
        `on_temperror = "continue"\n[dmarc]\non_temperror = "continue"`,
      );
      relays.push(up, closedDns, lenient);

      // DNS answering: SPF fail is refused, a DMARC reject policy refuses at DATA.
      assertMatch(await send(up.port, "bob@spf-fail.test", "bob@spf-fail.test"), /^550 5\.7\.23/);
      assertMatch(await send(up.port, "bob@ok.test", "alice@dm.test"), /^550 5\.7\.1/);
      assertEquals(await send(up.port, "bob@ok.test", "bob@ok.test"), "250");

      // SERVFAIL, silence, a closed port: SPF temperror, 451 4.7.24 (RFC 7372).
      dns.fault("spf-fail.test", "TXT", "servfail");
      assertMatch(await send(up.port, "bob@spf-fail.test", "x@ok.test"), /^451 4\.7\.24 /);
      dns.fault("spf-fail.test", "TXT", "drop");
      assertMatch(await send(up.port, "bob@spf-fail.test", "x@ok.test"), /^451 4\.7\.24 /);
      assertMatch(await send(closedDns.port, "bob@spf-fail.test", "x@ok.test"), /^451 4\.7\.24 /);
      await up.waitLog(/acl\.mail\[0\] deny deferred: the SPF check ended in temperror/);

      // DMARC's record cannot be read: the DMARC deny rule defers at DATA.
      dns.fault("_dmarc.dm.test", "TXT", "servfail");
      assertMatch(await send(up.port, "bob@ok.test", "alice@dm.test"), /^451 4\.7\.0 /);
      dns.fault("_dmarc.dm.test", "TXT", "drop");
      assertMatch(await send(up.port, "bob@ok.test", "alice@dm.test"), /^451 4\.7\.0 /);

      // on_temperror = "continue": the rules are evaluated, temperror is not "fail".
      assertEquals(await send(lenient.port, "bob@spf-fail.test", "x@ok.test"), "250");
      assertEquals(await send(lenient.port, "bob@ok.test", "alice@dm.test"), "250");
      const [m] = await lenient.messages();
      assertMatch(await lenient.body(m.id), /Received-SPF: temperror/);
    } finally {
      for (const r of relays) await r.close();
      dns.close();
    }
  },
});
