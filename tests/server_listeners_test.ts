/** Listener roles, IPv6, JSON logs and SIGHUP certificate reload. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayTest, spawnRelay } from "./helpers/relay.ts";
import { makeCert, python, swaks, swaksRun } from "./helpers/clients.ts";
import { waitFor } from "./helpers/wait.ts";
import { hashPassword } from "../lib/auth/mod.ts";

const dir = await Deno.makeTempDir({ prefix: "relay-listen-" });
const { cert, key } = await makeCert(dir);
const users = `${dir}/users`;
await Deno.writeTextFile(users, `# test users\nalice:${await hashPassword("pw", 10)}\n`);

relayTest(
  "a submission listener requires AUTH and adds Message-ID and Date when missing",
  `[tls]\ncertificate = "${cert}"\nprivate_key = "${key}"\n[auth]\ncredentials = "${users}"\n` +
    `[[listen]]\naddress = "127.0.0.1:0"\nrole = "submission"\nrequire_auth = true\n`,
  async (r) => {
    const py = await python(
      `
import smtplib, ssl, os, json
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]))
s.starttls(context=ssl._create_unverified_context())
s.ehlo("laptop.test")
out = {"before_auth": s.mail("alice@example.com")[0]}
s.rset()
s.login("alice", "pw")
s.sendmail("alice@example.com", ["bob@elsewhere.net"], b"From: alice@example.com\\r\\nSubject: no id\\r\\n\\r\\nhello\\r\\n")
print(json.dumps(out))
`,
      { PORT: String(r.port) },
    );
    assert(py.code === 0, py.stderr);
    assertEquals(JSON.parse(py.stdout), { before_auth: 530 });
    const [m] = await r.messages();
    const body = await r.body(m.id);
    assertMatch(body, new RegExp(`\\r\\nMessage-ID: <${m.id}@relay\\.test>\\r\\nDate: `));
    assertEquals(m.messageId, `<${m.id}@relay.test>`);
    assertMatch(body, /Subject: no id\r\n\r\nhello\r\n$/);
  },
);

relayTest(
  "several listeners at once, IPv4 and IPv6",
  '[[listen]]\naddress = "127.0.0.1:0"\n[[listen]]\naddress = "[::1]:0"\n',
  async (r) => {
    assertEquals(r.server.addresses.length, 2);
    const v6 = r.server.addresses[1];
    const res = await swaksRun([
      "--server",
      `::1`,
      "--port",
      String(v6.port),
      "-6",
      "--from",
      "a@example.com",
      "--to",
      "b@example.org",
    ]);
    assertEquals(res.code, 0, res.stdout + res.stderr);
    const [m] = await r.messages();
    assertEquals(m.client.ip, "::1");
    assertMatch(await r.body(m.id), /\[IPv6:::1\]\)/);
  },
);

Deno.test({
  name: "JSON logs go to the configured file; SIGHUP reloads the certificate",
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "relay-hup-" });
    const a = await makeCert(work, "old.test");
    const logFile = `${work}/main.log`;
    const relay = await spawnRelay(
      work,
      `[tls]\ncertificate = "${a.cert}"\nprivate_key = "${a.key}"\n[log]\nformat = "json"\nfile = "${logFile}"`,
      { logFile },
    );
    const peerName = async () => {
      const res = await swaks(relay.port, ["--tls", "--quit-after", "EHLO"]);
      return /TLS peer DN="\/CN=([^"]+)"/.exec(res.stdout)?.[1];
    };
    assertEquals(await peerName(), "old.test");
    const b = await makeCert(work, "new.test"); // same paths: overwrites the files
    assertEquals([b.cert, b.key], [a.cert, a.key]);
    relay.child.kill("SIGHUP");
    await waitFor(async () => (await peerName()) === "new.test", {
      timeoutMs: 5000,
      what: "the reloaded certificate (CN=new.test)",
    });
    assertEquals(await relay.stop(), 0);
    const lines = (await Deno.readTextFile(logFile)).trim().split("\n").map((l) => JSON.parse(l));
    assert(lines.some((l) => l.msg === "SIGHUP: TLS certificate reloaded"));
    assert(lines.every((l) => typeof l.ts === "string" && typeof l.level === "string"));
    await Deno.remove(work, { recursive: true });
  },
});
