/**
 * Protocol edge cases no real client can be made to show: a scripted raw client talks early,
 * pipelines where it must not, injects after STARTTLS, smuggles, and drops mid-DATA.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayTest } from "./helpers/relay.ts";
import { RawClient } from "./helpers/raw_smtp.ts";
import { makeCert, python } from "./helpers/clients.ts";

async function session(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  const [greeting] = await c.replies(1);
  assertMatch(greeting, /^220 relay\.test ESMTP/);
  return c;
}

relayTest(
  "a client that talks before the greeting is refused",
  '[smtp]\ngreeting_delay = "300ms"',
  async (r) => {
    const c = await RawClient.connect(r.port);
    await c.send("EHLO early.test\r\nMAIL FROM:<a@example.com>\r\n");
    const [reply] = await c.replies(1);
    assertEquals(reply, "554 5.5.0 SMTP synchronization error");
    assert(await c.closedByPeer());
    c.close();
    await r.waitLog(/synchronization error \(input sent without waiting for greeting\)/);
  },
);

relayTest("pipelining after a group-ending command is a synchronization error", "", async (r) => {
  const c = await session(r.port);
  await c.send("EHLO c.test\r\nMAIL FROM:<a@example.com>\r\n");
  assertEquals(await c.replies(1), ["554 5.5.0 SMTP synchronization error"]);
  c.close();
  const h = await session(r.port);
  await h.send("HELO c.test\r\n");
  assertMatch((await h.replies(1))[0], /^250 /);
  await h.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"); // no PIPELINING after HELO
  assertEquals(await h.replies(1), ["554 5.5.0 SMTP synchronization error"]);
  h.close();
});

relayTest("a legal pipelined group gets every reply in order", "", async (r) => {
  const c = await session(r.port);
  await c.send("EHLO c.test\r\n");
  await c.replies(1);
  await c.send(
    "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<bad address>\r\nDATA\r\n",
  );
  assertEquals(await c.replies(4), [
    "250 2.1.0 Sender OK",
    "250 2.1.5 Recipient OK",
    "501 5.1.3 Bad recipient address syntax: address must be local-part@domain",
    "354 End data with <CR><LF>.<CR><LF>",
  ]);
  await c.send("Subject: p\r\n\r\nhi\r\n.\r\nQUIT\r\n");
  const [ok, bye] = await c.replies(2);
  assertMatch(ok, /^250 2\.0\.0 OK queued as /);
  assertMatch(bye, /^221 /);
  c.close();
});

relayTest(
  "bad commands get the right codes and too many errors drop the client",
  "[smtp]\nmax_errors = 4",
  async (r) => {
    const c = await session(r.port);
    const exchange = async (line: string) => {
      await c.send(line + "\r\n");
      return (await c.replies(1))[0];
    };
    assertEquals(await exchange("MAIL FROM:<a@example.com>"), "503 5.5.1 Send EHLO or HELO first");
    assertEquals(await exchange("EHLO"), "501 5.5.4 Syntax: EHLO hostname");
    assertMatch(await exchange("EHLO c.test"), /^250 HELP/);
    assertEquals(await exchange("RCPT TO:<b@example.org>"), "503 5.5.1 Need MAIL before RCPT");
    assertEquals(
      await exchange("VRFY bob"),
      "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
    );
    assertEquals(await exchange("NOOP"), "250 2.0.0 OK");
    assertEquals(
      await exchange("MAIL FROM:<a@example.com> FOO=BAR"),
      "555 5.5.4 Unsupported parameter FOO",
    );
    assertEquals(await exchange("XYZZY"), "421 4.7.0 relay.test Too many errors");
    assert(await c.closedByPeer());
    c.close();
  },
);

relayTest("an overlong command line gets 500 5.5.2 and the session goes on", "", async (r) => {
  const c = await session(r.port);
  await c.send(`EHLO ${"a".repeat(5000)}\r\n`);
  assertEquals(await c.replies(1), ["500 5.5.2 Line too long"]);
  await c.send("NOOP\r\n");
  assertEquals(await c.replies(1), ["250 2.0.0 OK"]);
  // A huge line with no end at all does not grow memory without bound.
  await c.send("X".repeat(200_000));
  await c.send("\r\nNOOP\r\n");
  assertEquals(await c.replies(2), ["500 5.5.2 Line too long", "250 2.0.0 OK"]);
  c.close();
});

relayTest(
  "SMTP smuggling: \\n.\\n never ends DATA, so no second message appears",
  "",
  async (r) => {
    for (const smuggle of ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r"]) {
      const c = await session(r.port);
      await c.send("EHLO c.test\r\n");
      await c.replies(1);
      await c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
      await c.replies(3);
      await c.send(
        `Subject: one\r\n\r\nbody${smuggle}MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n` +
          "Subject: smuggled\r\n\r\nevil\r\n.\r\n",
      );
      const replies = await c.replies(1);
      assertMatch(replies[0], /^250 2\.0\.0 OK queued as /);
      assertEquals(
        await c.replies(1, 300),
        [],
        "no further replies: the smuggled commands were data",
      );
      c.close();
    }
    const all = await r.messages();
    assertEquals(all.length, 5);
    for (const m of all) {
      assertEquals(m.sender, "a@example.com");
      assertEquals(m.recipients.map((x) => x.address), ["b@example.org"]);
    }
  },
);

relayTest(
  "bare_newline = reject refuses a message with bare LF",
  '[smtp]\nbare_newline = "reject"',
  async (r) => {
    const c = await session(r.port);
    await c.send("EHLO c.test\r\n");
    await c.replies(1);
    await c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
    await c.replies(3);
    await c.send("Subject: x\r\n\r\nline\nwith bare LF\r\n.\r\n");
    assertMatch((await c.replies(1))[0], /^550 5\.5\.2 Message contains bare <CR> or <LF>/);
    assertEquals((await r.messages()).length, 0);
    c.close();
  },
);

relayTest("bare newlines are normalised to CRLF by default", "", async (r) => {
  const c = await session(r.port);
  await c.send("EHLO c.test\r\n");
  await c.replies(1);
  await c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
  await c.replies(3);
  await c.send("Subject: x\r\n\r\na\nb\rc\r\n.\r\n");
  assertMatch((await c.replies(1))[0], /^250 /);
  const [m] = await r.messages();
  assert((await r.body(m.id)).endsWith("\r\n\r\na\r\nb\r\nc\r\n"));
  c.close();
});

relayTest(
  "BDAT chunks (RFC 3030) build one message; errors still consume the chunk",
  "",
  async (r) => {
    const c = await session(r.port);
    await c.send("EHLO c.test\r\n");
    assertMatch((await c.replies(1))[0], /^250 HELP/);
    const part1 = "Subject: chunked\r\n\r\n";
    const part2 = "line one\r\n.line two with a dot\r\n";
    await c.send(`BDAT 5\r\nhello`); // no transaction yet: 503, and the 5 bytes are skipped
    assertEquals(await c.replies(1), ["503 5.5.1 Need MAIL command"]);
    await c.send(
      `MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nBDAT ${part1.length}\r\n${part1}` +
        `BDAT ${part2.length} LAST\r\n${part2}`,
    );
    const replies = await c.replies(4);
    assertEquals(replies.slice(0, 3), [
      "250 2.1.0 Sender OK",
      "250 2.1.5 Recipient OK",
      `250 2.0.0 ${part1.length} octets received`,
    ]);
    assertMatch(replies[3], /^250 2\.0\.0 OK queued as /);
    const [m] = await r.messages();
    assert(
      (await r.body(m.id)).endsWith(part1 + part2),
      "BDAT data is stored unchanged (no dot processing)",
    );
    c.close();
  },
);

relayTest("a client dropping mid-DATA leaves nothing in the spool", "", async (r) => {
  const c = await session(r.port);
  await c.send("EHLO c.test\r\n");
  await c.replies(1);
  await c.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n");
  await c.replies(3);
  await c.send("Subject: cut\r\n\r\n" + "partial body\r\n".repeat(1000));
  c.close();
  await r.waitLog(/unexpected disconnection while reading message data/);
  assertEquals((await r.messages()).length, 0);
  const partial = [];
  for await (const e of r.spool.kv.list({ prefix: ["body"] })) partial.push(e.key);
  assertEquals(partial.length, 0);
});

relayTest(
  "an idle client is dropped with 421 4.4.2 after the command timeout",
  '[smtp]\ncommand_timeout = "300ms"',
  async (r) => {
    const c = await session(r.port);
    assertEquals(await c.replies(1, 2000), ["421 4.4.2 relay.test Timeout, closing connection"]);
    assert(await c.closedByPeer());
    c.close();
  },
);

relayTest(
  "per-IP connection limit answers 421 to the extra connection",
  "[server]\nmax_connections_per_ip = 2",
  async (r) => {
    const a = await session(r.port);
    const b = await session(r.port);
    const c = await RawClient.connect(r.port);
    assertEquals(await c.replies(1), ["421 4.7.0 relay.test Too many connections from your IP"]);
    for (const x of [a, b, c]) x.close();
  },
);

const tlsDir = await Deno.makeTempDir({ prefix: "relay-tls-" });
const { cert, key } = await makeCert(tlsDir);

relayTest(
  "STARTTLS injection (CVE-2011-0411): commands pipelined in clear after STARTTLS are dropped",
  `[tls]\ncertificate = "${cert}"\nprivate_key = "${key}"`,
  async (r) => {
    const py = await python(
      `
import socket, ssl, os, json
s = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        lines.append(l.strip())
        if l[3:4] == " ": return lines
reply()
s.sendall(b"EHLO c.test\\r\\n"); reply()
s.sendall(b"STARTTLS\\r\\nMAIL FROM:<injected@example.com>\\r\\n")
out = {"starttls": reply()[-1]}
t = ssl._create_unverified_context().wrap_socket(s)
f = t.makefile("rb")
t.sendall(b"MAIL FROM:<a@example.com>\\r\\n")
out["mail_before_ehlo"] = reply()[-1]
t.sendall(b"EHLO c.test\\r\\n")
out["ehlo"] = reply()[-1]
t.sendall(b"MAIL FROM:<a@example.com>\\r\\n")
out["mail"] = reply()[-1]
print(json.dumps(out))
`,
      { PORT: String(r.port) },
    );
    assert(py.code === 0, py.stderr);
    assertEquals(JSON.parse(py.stdout), {
      starttls: "220 2.0.0 Ready to start TLS",
      mail_before_ehlo: "503 5.5.1 Send EHLO or HELO first",
      ehlo: "250 HELP",
      mail: "250 2.1.0 Sender OK",
    });
    await r.waitLog(/sent \d+ bytes after STARTTLS; discarded/);
  },
);

relayTest(
  "a broken TLS handshake after STARTTLS closes that connection; the relay keeps serving",
  `[tls]\ncertificate = "${cert}"\nprivate_key = "${key}"`,
  async (r) => {
    const c = await session(r.port);
    await c.send("EHLO c.test\r\n");
    await c.replies(1);
    await c.send("STARTTLS\r\n");
    assertEquals(await c.replies(1), ["220 2.0.0 Ready to start TLS"]);
    await c.send("this is not a TLS ClientHello\r\n".repeat(4));
    assert(await c.closedByPeer(), "connection closed");
    c.close();
    await r.waitLog(/TLS error on connection from/);
    const again = await session(r.port);
    await again.send("NOOP\r\n");
    assertEquals(await again.replies(1), ["250 2.0.0 OK"]);
    again.close();
  },
);
