/** SRS round trip: forwarded mail leaves with an SRS0 sender; a bounce to it is reversed. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { spawnRelay, startRelay } from "./helpers/relay.ts";
import { python } from "./helpers/clients.ts";
import { smtpSink } from "./helpers/postfix.ts";
import { waitFor } from "./helpers/wait.ts";
import { srsForward } from "../lib/senderauth/mod.ts";

const SRS = `[server]
trusted_networks = []
local_domains = ["fwd.test"]
[srs]
domain = "srs.fwd.test"
secrets = ["first-secret-2026", "older-secret-2025"]
`;

async function send(port: number, sender: string, rcpt: string): Promise<string> {
  const py = await python(
    `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
try:
    s.sendmail(os.environ["FROM"], [os.environ["TO"]], b"Subject: fwd\\r\\n\\r\\nbody\\r\\n")
    print("250")
except smtplib.SMTPRecipientsRefused as e:
    r = list(e.recipients.values())[0]
    print(r[0], r[1].decode())
`,
    { PORT: String(port), FROM: sender, TO: rcpt },
  );
  assert(py.code === 0, py.stderr);
  return py.stdout.trim();
}

Deno.test({
  name: "forwarded mail goes out with an SRS0 sender of our domain (real smtp-sink)",
  async fn() {
    const sink = await smtpSink({ dump: true });
    const dir = await Deno.makeTempDir({ prefix: "relay-srs-" });
    const relay = await spawnRelay(
      dir,
      SRS + `[[route]]\ndomains = "*"\ntransport = "out"\n` +
        `[transport.out]\ndriver = "smtp"\nhosts = ["127.0.0.1:${sink.port}"]\ntls = "off"\n`,
    );
    try {
      assertEquals(await send(relay.port, "alice@origin.test", "bob@fwd.test"), "250");
      const [got] = await waitFor(async () => {
        const all = await sink.messages();
        return all.length > 0 && all;
      }, { timeoutMs: 15000, what: "the forwarded message at smtp-sink" });
      assertMatch(got, /SRS0=[^=]+=[A-Z0-9]{2}=origin\.test=alice@srs\.fwd\.test/);
    } finally {
      await relay.stop();
      await sink.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a bounce to an SRS address is reversed; forged SRS addresses are refused",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const r = await startRelay(SRS);
    try {
      // Signed with the older secret: still accepted (rotation).
      const srs = srsForward("alice@origin.test", "srs.fwd.test", ["older-secret-2025"]);
      assertEquals(await send(r.port, "", srs), "250");
      const [m] = await r.messages();
      assertEquals(m.sender, "");
      assertEquals(m.recipients.map((x) => x.address), ["alice@origin.test"]);
      const forged = srs.replace(/^SRS0=[^=]+=/, "SRS0=AAAA=");
      assertMatch(
        await send(r.port, "", forged),
        /^550 5\.1\.1 <.*>: invalid SRS address \(forged\)/,
      );
      assertMatch(
        await send(r.port, "", "someone@srs.fwd.test"),
        /^550 5\.1\.1 <someone@srs\.fwd\.test>: no such user/,
      );
      // A stranger still cannot relay to outside domains through the SRS domain's rules.
      assertMatch(await send(r.port, "x@origin.test", "victim@elsewhere.test"), /^554 5\.7\.1/);
    } finally {
      await r.close();
    }
  },
});
