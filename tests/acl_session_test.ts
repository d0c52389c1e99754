/** ACLs through real SMTP sessions (swaks, smtplib, real redis-server) and test-session. */
import { assert, assertEquals, assertMatch, assertNotMatch } from "./helpers/assert.ts";
import { relayCli, relayTest, startRelay } from "./helpers/relay.ts";
import { python, swaks } from "./helpers/clients.ts";
import { startRedis } from "./helpers/redis.ts";

const dir = await Deno.makeTempDir({ prefix: "relay-acl-" });
const blocked = `${dir}/blocked`;
await Deno.writeTextFile(blocked, "# blocked senders\nspammer@example.com: listed 2026-11\n");

const ACL = `
[server]
local_domains = ["example.org"]
trusted_networks = []

[lookup.blocked]
driver = "file"
path = "${blocked}"

[[acl.connect]]
drop = 'in_cidr(client.ip, ["127.0.0.9/32"])'
message = "554 5.7.1 Go away"

[[acl.helo]]
deny = 'client.helo == "forbidden.test"'
message = "550 5.7.1 HELO {client.helo} refused"

[[acl.mail]]
warn = 'sender.domain == "example.net"'
add_header = "X-Sender-Note: from example.net"
log_message = "example.net sender {sender.address}"

[[acl.rcpt]]
deny = 'lookup("blocked", sender.address) != null'
message = "550 5.7.1 Sender <{sender.address}> is blocked"

[[acl.rcpt]]
discard = 'rcpt.local == "blackhole"'

[[acl.data]]
deny = '"subject" in message.headers && message.headers["subject"].exists(s, s.contains("VIAGRA"))'
message = "550 5.7.1 Spam refused"
`;

relayTest("a file lookup in an rcpt ACL refuses a blocked sender; others pass", ACL, async (r) => {
  const bad = await swaks(r.port, ["--from", "spammer@example.com", "--to", "u@example.org"]);
  assertMatch(bad.stdout, /550 5\.7\.1 Sender <spammer@example\.com> is blocked/);
  const ok = await swaks(r.port, ["--from", "friend@example.com", "--to", "u@example.org"]);
  assertEquals(ok.code, 0, ok.stdout);
  // The built-in relay control still follows the configured rules.
  const relay = await swaks(r.port, ["--from", "friend@example.com", "--to", "x@elsewhere.net"]);
  assertMatch(relay.stdout, /554 5\.7\.1 <x@elsewhere\.net>: Relay access denied/);
  assertEquals((await r.messages()).length, 1);
});

relayTest(
  "helo, warn with add_header, discard and data ACLs act through smtplib",
  ACL,
  async (r) => {
    const py = await python(
      `
import smtplib, os, json
port = int(os.environ["PORT"])
out = {}
s = smtplib.SMTP("127.0.0.1", port)
out["helo"] = s.ehlo("forbidden.test")[0]
out["helo2"] = s.ehlo("fine.test")[0]
s.mail("a@example.net")
out["rcpt1"] = s.rcpt("u@example.org")[0]
out["rcpt2"] = s.rcpt("blackhole@example.org")[0]
out["data"] = s.data(b"Subject: hello\\r\\n\\r\\nbody\\r\\n")[0]
s.mail("a@example.com")
s.rcpt("u@example.org")
out["spam"] = s.data(b"Subject: cheap VIAGRA\\r\\n\\r\\nbody\\r\\n")[0]
s.mail("a@example.com")
out["only_discarded"] = s.rcpt("blackhole@example.org")[0]
out["discarded_data"] = s.data(b"Subject: x\\r\\n\\r\\nbody\\r\\n")[0]
s.quit()
print(json.dumps(out))
`,
      { PORT: String(r.port) },
    );
    assert(py.code === 0, py.stderr);
    assertEquals(JSON.parse(py.stdout), {
      helo: 550,
      helo2: 250,
      rcpt1: 250,
      rcpt2: 250,
      data: 250,
      spam: 550,
      only_discarded: 250,
      discarded_data: 250,
    });
    const all = await r.messages();
    assertEquals(all.length, 1, "the spam and the all-discarded message are not queued");
    assertEquals(all[0].recipients.map((x) => x.address), ["u@example.org"]);
    const body = await r.body(all[0].id);
    assertMatch(body, /^Received: [^]*?\r\nX-Sender-Note: from example\.net\r\n/);
    // Untrusted client: SPF was checked (temperror: tests have no DNS) and reported.
    assertMatch(
      body,
      /\r\nReceived-SPF: temperror [^]*\r\nAuthentication-Results: relay\.test;[^]*Subject: hello/,
    );
    await r.waitLog(/Warning: example\.net sender a@example\.net/);
    await r.waitLog(/rejected EHLO forbidden\.test: 550 5\.7\.1 HELO forbidden\.test refused/);
    await r.waitLog(/discarded by ACL/);
  },
);

relayTest("hostile text in addresses and HELO stays data in CEL conditions", ACL, async (r) => {
  const py = await python(
    `
import smtplib, os, json
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo('x.test')
codes = []
for sender in ['"a\\\\" || true || \\\\""@example.com', '"\${run{/bin/sh}}"@example.com', '"lookup(\\'blocked\\', x)"@example.com']:
    codes.append(s.mail(sender)[0])
    codes.append(s.rcpt("u@example.org")[0])
    s.rset()
print(json.dumps(codes))
`,
    { PORT: String(r.port) },
  );
  assert(py.code === 0, py.stderr);
  assertEquals(JSON.parse(py.stdout), [250, 250, 250, 250, 250, 250]);
});

Deno.test({
  name: "connect ACL drops a client before the banner",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const r = await startRelay(ACL.replace("127.0.0.9/32", "127.0.0.0/8"));
    try {
      const res = await swaks(r.port, ["--from", "a@example.com", "--to", "u@example.org"]);
      assertMatch(res.stdout, /554 5\.7\.1 Go away/);
      assertEquals((await r.messages()).length, 0);
    } finally {
      await r.close();
    }
  },
});

Deno.test({
  name: "a Redis lookup that cannot answer defers RCPT with 451 (never fails open)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const redis = await startRedis();
    await redis.cli("SADD", "blocked", "spammer@example.com");
    const r = await startRelay(`
[server]
local_domains = ["example.org"]
trusted_networks = []
[lookup.blocked]
driver = "redis"
servers = ["${redis.server()}"]
command = ["SISMEMBER", "blocked"]
timeout = "500ms"
cache_ttl = "0s"
negative_ttl = "0s"
[[acl.rcpt]]
deny = 'in_list("blocked", sender.address)'
message = "550 5.7.1 blocked"
`);
    try {
      const bad = await swaks(r.port, ["--from", "spammer@example.com", "--to", "u@example.org"]);
      assertMatch(bad.stdout, /550 5\.7\.1 blocked/);
      await redis.stop();
      const down = await swaks(r.port, ["--from", "friend@example.com", "--to", "u@example.org"]);
      assertMatch(down.stdout, /451 4\.3\.0/);
      assertEquals((await r.messages()).length, 0);
      await redis.start();
      const up = await swaks(r.port, ["--from", "friend@example.com", "--to", "u@example.org"]);
      assertEquals(up.code, 0, up.stdout);
    } finally {
      await r.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name: "relay test-session runs stdin through the session and ACLs and queues nothing",
  async fn() {
    const cfg = `${dir}/relay.toml`;
    await Deno.writeTextFile(
      cfg,
      ACL.replace("trusted_networks = []", `trusted_networks = []\nspool = "${dir}/spool"`) +
        // SPF runs for this stranger: keep its DNS on loopback (a closed port fails at once).
        `\n[dns]\nservers = ["127.0.0.1:9"]\nattempts = 1\ntimeout = "200ms"\n`,
    );
    const input =
      "EHLO probe.test\r\nMAIL FROM:<spammer@example.com>\r\nRCPT TO:<u@example.org>\r\n" +
      "RSET\r\nMAIL FROM:<ok@example.com>\r\nRCPT TO:<u@example.org>\r\nDATA\r\nSubject: t\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    const res = await relayCli(["test-session", "--from-ip", "192.0.2.7", "--config", cfg], input);
    assertEquals(res.code, 0, res.stderr);
    assertMatch(
      res.stdout,
      /ACL acl\.rcpt\[0\] deny 'lookup\("blocked", sender\.address\) != null' -> true/,
    );
    assertMatch(res.stdout, /550 5\.7\.1 Sender <spammer@example\.com> is blocked/);
    assertMatch(res.stdout, /250 2\.0\.0 OK [0-9A-Z]{17} \(test session: not queued\)/);
    assertMatch(
      res.stdout,
      /LOG: H=\(probe\.test\) \[192\.0\.2\.7\]:\d+ F=<spammer@example\.com> rejected RCPT/,
    );
    assertNotMatch(res.stdout, /queued as/);
    assertMatch(res.stdout, /LOG: .* SPF temperror/);
    const list = await relayCli(["queue", "list", "--config", cfg]);
    assertMatch(list.stdout, /queue is empty/);
  },
});
