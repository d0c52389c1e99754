/** The SMTP server driven by real clients: swaks and Python's smtplib. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayTest } from "./helpers/relay.ts";
import { makeCert, python, swaks } from "./helpers/clients.ts";
import { hashPassword } from "../lib/auth/mod.ts";

relayTest("swaks delivers a plain message into the spool with a Received header", "", async (r) => {
  const res = await swaks(r.port, [
    "--from",
    "alice@example.com",
    "--to",
    "bob@example.org",
    "--ehlo",
    "client.test",
  ]);
  assertEquals(res.code, 0, res.stdout);
  assertMatch(res.stdout, /250 2\.0\.0 OK queued as [0-9A-Z]{17}/);
  const [m] = await r.messages();
  assertEquals(m.sender, "alice@example.com");
  assertEquals(m.recipients.map((x) => x.address), ["bob@example.org"]);
  assertEquals(m.client.helo, "client.test");
  const body = await r.body(m.id);
  assertMatch(
    body,
    /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test \(edge relay\) with ESMTP id /,
  );
  assertMatch(body, /\r\n\tfor <bob@example\.org>; /);
  assertMatch(body, /This is a test mailing/);
  await r.waitLog(
    new RegExp(
      `${m.id} <= alice@example.com H=\\(client.test\\) \\[127.0.0.1\\]:\\d+ P=esmtp S=\\d+ id=<`,
    ),
  );
});

relayTest("swaks --pipeline: replies come batched and the message is accepted", "", async (r) => {
  const res = await swaks(r.port, [
    "--pipeline",
    "--from",
    "a@example.com",
    "--to",
    "b@example.org,c@example.org",
  ]);
  assertEquals(res.code, 0, res.stdout);
  assertMatch(res.stdout, /PIPELINING/);
  const [m] = await r.messages();
  assertEquals(m.recipients.length, 2);
});

relayTest(
  "relay is refused to untrusted clients but accepted for local domains",
  '[server]\ntrusted_networks = []\nlocal_domains = ["example.org"]',
  async (r) => {
    const denied = await swaks(r.port, ["--from", "a@example.com", "--to", "victim@elsewhere.net"]);
    assert(denied.code !== 0);
    assertMatch(denied.stdout, /554 5\.7\.1 <victim@elsewhere\.net>: Relay access denied/);
    await r.waitLog(/rejected RCPT <victim@elsewhere.net>: 554 5.7.1/);
    const ok = await swaks(r.port, ["--from", "a@example.com", "--to", "user@example.org"]);
    assertEquals(ok.code, 0, ok.stdout);
    assertEquals((await r.messages()).length, 1);
  },
);

relayTest(
  "a message over max_message_size gets 552 and is not spooled",
  '[smtp]\nmax_message_size = "20K"',
  async (r) => {
    const big = "x".repeat(70) + "\n";
    const res = await swaks(r.port, [
      "--from",
      "a@example.com",
      "--to",
      "b@example.org",
      "--body",
      big.repeat(400),
    ]);
    assertMatch(res.stdout, /SIZE 20480/);
    assertMatch(res.stdout, /552 5\.3\.4 Message size exceeds fixed maximum message size/);
    assertEquals((await r.messages()).length, 0);
    // SIZE= declared too big is refused at MAIL FROM (RFC 1870).
    const py = await python(
      `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo("c.test")
print(s.mail("a@example.com", ["SIZE=999999"]))
`,
      { PORT: String(r.port) },
    );
    assertMatch(py.stdout, /552, b'5\.3\.4/);
  },
);

relayTest(
  "too many recipients get 452 4.5.3; the accepted ones are kept",
  "[smtp]\nmax_recipients = 3",
  async (r) => {
    const py = await python(
      `
import smtplib, os, json
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo("c.test")
s.mail("a@example.com")
codes = [s.rcpt(f"u{i}@example.org")[0] for i in range(5)]
code, _ = s.data(b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
print(json.dumps({"codes": codes, "data": code}))
s.quit()
`,
      { PORT: String(r.port) },
    );
    assertEquals(JSON.parse(py.stdout), { codes: [250, 250, 250, 452, 452], data: 250 });
    const [m] = await r.messages();
    assertEquals(m.recipients.length, 3);
  },
);

relayTest(
  "SMTPUTF8 addresses are accepted with the parameter and refused without it",
  "",
  async (r) => {
    const py = await python(
      `
import smtplib, os, json
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo("c.test")
out = {"ext": s.has_extn("smtputf8")}
code, _ = s.mail("jöran@exämple.com", ["SMTPUTF8"])
out["mail"] = code
out["rcpt"] = s.rcpt("ü@exämple.org")[0]
out["data"] = s.data("Subject: grüße\\r\\n\\r\\nbody\\r\\n".encode())[0]
s.rset()
s.command_encoding = "utf-8"
s.putcmd("MAIL FROM:<jöran@exämple.com>")
out["no_param"] = s.getreply()[0]
print(json.dumps(out))
`,
      { PORT: String(r.port) },
    );
    assertEquals(JSON.parse(py.stdout), {
      ext: true,
      mail: 250,
      rcpt: 250,
      data: 250,
      no_param: 553,
    });
    const [m] = await r.messages();
    assertEquals(m.smtputf8, true);
    assertEquals(m.sender, "jöran@exämple.com");
    assertMatch(await r.body(m.id), /with UTF8SMTP id/);
  },
);

relayTest("DSN parameters are stored in the envelope", "", async (r) => {
  const py = await python(
    `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.ehlo("c.test")
assert s.has_extn("dsn")
s.mail("a@example.com", ["RET=HDRS", "ENVID=QQ+2B314"])
s.rcpt("b@example.org", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;b+2Bx@example.org"])
s.rcpt("c@example.org", ["NOTIFY=NEVER"])
print(s.data(b"Subject: dsn\\r\\n\\r\\nbody\\r\\n")[0])
`,
    { PORT: String(r.port) },
  );
  assertEquals(py.stdout.trim(), "250", py.stderr);
  const [m] = await r.messages();
  assertEquals(m.dsn, { ret: "HDRS", envid: "QQ+314" });
  assertEquals(m.recipients[0].notify, ["SUCCESS", "FAILURE"]);
  assertEquals(m.recipients[0].orcpt, "rfc822;b+x@example.org");
  assertEquals(m.recipients[1].notify, ["NEVER"]);
});

relayTest("smtplib sends several messages over one session", "", async (r) => {
  const py = await python(
    `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
for i in range(5):
    s.sendmail("a@example.com", [f"u{i}@example.org"], f"Subject: {i}\\r\\n\\r\\n.leading dot\\r\\n".encode())
s.quit()
print("ok")
`,
    { PORT: String(r.port) },
  );
  assertEquals(py.stdout.trim(), "ok", py.stderr);
  const all = await r.messages();
  assertEquals(all.length, 5);
  assert((await r.body(all[0].id)).endsWith("\r\n.leading dot\r\n"), "dot-stuffing undone");
});

const tlsDir = await Deno.makeTempDir({ prefix: "relay-tls-" });
const { cert, key } = await makeCert(tlsDir);
const credentials = `${tlsDir}/users`;
await Deno.writeTextFile(credentials, `alice:${await hashPassword("s3cret", 10)}\n`);
const TLS_TOML = `[tls]\ncertificate = "${cert}"\nprivate_key = "${key}"\n` +
  `[auth]\ncredentials = "${credentials}"\nfailure_delay = "50ms"\n[server]\ntrusted_networks = []\nlocal_domains = ["example.org"]`;

relayTest(
  "STARTTLS with swaks: the session is encrypted and Received says so",
  TLS_TOML,
  async (r) => {
    const res = await swaks(r.port, ["--tls", "--from", "a@example.com", "--to", "b@example.org"]);
    assertEquals(res.code, 0, res.stdout);
    assertMatch(res.stdout, /TLS started with cipher TLSv1\.3/);
    const [m] = await r.messages();
    assertEquals(m.tls?.version, "TLSv1.3");
    assertEquals(m.protocol, "esmtps");
    assertMatch(await r.body(m.id), /with ESMTPS id .*\r\n\t\(version=TLSv1\.3 cipher=TLS_/);
    await r.waitLog(/<= a@example.com .* P=esmtps X=TLS1\.3:TLS_[A-Z0-9_]+:(128|256) S=/);
  },
);

relayTest("AUTH is not offered before TLS and relaying needs it", TLS_TOML, async (r) => {
  const plain = await swaks(r.port, ["--quit-after", "EHLO"]);
  assert(!/250-AUTH/.test(plain.stdout), "AUTH offered in clear");
  const noauth = await swaks(r.port, [
    "--tls",
    "--from",
    "a@example.com",
    "--to",
    "x@elsewhere.net",
  ]);
  assertMatch(noauth.stdout, /554 5\.7\.1/);
  const clear = await swaks(r.port, [
    "--auth",
    "PLAIN",
    "--auth-user",
    "alice",
    "--auth-password",
    "s3cret",
    "--quit-after",
    "AUTH",
  ]);
  assert(clear.code !== 0, "AUTH in clear must fail");
});

relayTest(
  "AUTH PLAIN and LOGIN over TLS let a user relay; wrong passwords get 535",
  TLS_TOML,
  async (r) => {
    for (const mech of ["PLAIN", "LOGIN"]) {
      const res = await swaks(r.port, [
        "--tls",
        "--auth",
        mech,
        "--auth-user",
        "alice",
        "--auth-password",
        "s3cret",
        "--from",
        "alice@example.com",
        "--to",
        "friend@elsewhere.net",
      ]);
      assertEquals(res.code, 0, res.stdout);
      assertMatch(res.stdout, /235 2\.7\.0 Authentication successful/);
    }
    const all = await r.messages();
    assertEquals(all.length, 2);
    assertEquals(all[0].authUser, "alice");
    assertEquals(all[0].protocol, "esmtpsa");
    await r.waitLog(/P=esmtpsa X=TLS1\.3.* A=plain:alice S=/);
    const bad = await swaks(r.port, [
      "--tls",
      "--auth",
      "PLAIN",
      "--auth-user",
      "alice",
      "--auth-password",
      "nope",
      "--quit-after",
      "AUTH",
    ]);
    assertMatch(bad.stdout, /535 5\.7\.8 Authentication credentials invalid/);
    await r.waitLog(/plain authenticator failed for .*set_id="alice"/);
  },
);

relayTest("AUTH failures from one IP are rate limited", TLS_TOML, async (r) => {
  // ip_max_failures defaults to 10; three sessions of three failures, then blocked.
  const py = await python(
    `
import smtplib, ssl, os, json
ctx = ssl._create_unverified_context()
codes = []
for i in range(5):
    s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
    s.starttls(context=ctx)
    s.ehlo("c.test")
    for j in range(3):
        try:
            s.user, s.password = "alice", "wrong"
            s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            codes.append(e.smtp_code)
        except smtplib.SMTPServerDisconnected:
            codes.append("closed")
            break
    try: s.quit()
    except Exception: pass
print(json.dumps(codes))
`,
    { PORT: String(r.port) },
  );
  const codes = JSON.parse(py.stdout) as (number | string)[];
  assertEquals(codes.slice(0, 3), [535, 535, 535]);
  assert(codes.includes(454), `expected a 454 block in ${py.stdout}`);
});

relayTest(
  "a message to 1,000 long recipients is accepted in one transaction",
  "[smtp]\nmax_recipients = 1000",
  async (r) => {
    const py = await python(
      `
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
long = "x" * 60
rcpts = [f"{long}{i}@{long}.example.org" for i in range(1000)]
print(s.sendmail("a@example.com", rcpts, b"Subject: many\\r\\n\\r\\nbody\\r\\n") or "ok")
`,
      { PORT: String(r.port) },
    );
    assertEquals(py.stdout.trim(), "ok", py.stderr);
    const [m] = await r.messages();
    assertEquals(m.recipients.length, 1000);
  },
);
