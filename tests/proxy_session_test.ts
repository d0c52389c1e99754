/**
 * PROXY protocol on a relay listener: real haproxy in front (v1, v2, v2 with SSL TLV; IPv4
 * and IPv6 clients via swaks), and hand-made headers over raw sockets (malformed, late,
 * untrusted, pipelined, split), ending with a bounded fuzz run.
 */
import { assert, assertEquals, assertMatch, assertNotMatch } from "./helpers/assert.ts";
import { relayTest, type TestRelay } from "./helpers/relay.ts";
import { RawClient } from "./helpers/raw_smtp.ts";
import { swaksRun } from "./helpers/clients.ts";
import { waitFor } from "./helpers/wait.ts";
import { type SendProxy, startHaproxy } from "./helpers/haproxy.ts";
import { concat, sslTlv, tlv, v1Header, v2Header } from "./helpers/proxy_header.ts";

const enc = new TextEncoder();

/** Both listeners take PROXY headers; only 127.0.0.1 (haproxy, raw tests) is trusted. */
const CONFIG = `
[[listen]]
address = "127.0.0.1:0"
proxy_protocol = true

[[listen]]
address = "[::1]:0"
proxy_protocol = true

[proxy]
trusted = ["127.0.0.1"]
timeout = "1s"

[log]
proxy = true
`;

const REFUSED = "503 5.7.0 Command refused, required Proxy negotiation failed";

/** Port of the [::1] listener, where 127.0.0.1's trust does not apply. */
function port6(r: TestRelay): number {
  return r.server.addresses.find((a) => a.hostname === "::1")!.port;
}

async function swaksVia(server: string[], extra: string[]): Promise<string> {
  const out = await swaksRun([
    ...server,
    "--timeout",
    "20",
    "--from",
    "alice@example.com",
    "--to",
    "bob@example.org",
    "--ehlo",
    "client.test",
    ...extra,
  ]);
  const text = out.stdout + out.stderr;
  assertEquals(out.code, 0, text);
  return text;
}

async function throughHaproxy(r: TestRelay, flavour: SendProxy): Promise<void> {
  const hap = await startHaproxy({
    backend: { hostname: "127.0.0.1", port: r.port },
    sendProxy: flavour,
    proxyV2Options: flavour === "send-proxy" ? undefined : ["crc32c", "unique-id"],
  });
  try {
    // IPv4: the client binds 127.0.0.2, haproxy reaches the relay from 127.0.0.1.
    await swaksVia(["--server", `127.0.0.1:${hap.port}`, "--local-interface", "127.0.0.2"], []);
    // IPv6: the client is ::1, haproxy reaches the relay over IPv4.
    await swaksVia(["-6", "--server", "::1", "--port", String(hap.port6)], []);
  } finally {
    await hap.stop();
  }
  const messages = await r.messages();
  assertEquals(messages.map((m) => m.client.ip).sort(), ["127.0.0.2", "::1"]);
  for (const m of messages) {
    assertEquals(m.proxy?.ip, "127.0.0.1");
    const body = await r.body(m.id);
    // RFC 5321 4.1.3: an IPv6 literal reads [IPv6:::1].
    const literal = m.client.ip.includes(":") ? `IPv6:${m.client.ip}` : m.client.ip;
    assertMatch(body, new RegExp(`^Received: from client\\.test \\(\\[${literal}\\]\\)`));
  }
  await r.waitLog(
    /<= alice@example\.com H=\(client\.test\) \[127\.0\.0\.2\]:\d+ .*PRX=127\.0\.0\.1/,
  );
  await r.waitLog(/<= alice@example\.com H=\(client\.test\) \[::1\]:\d+ .*PRX=127\.0\.0\.1/);
}

for (const flavour of ["send-proxy", "send-proxy-v2", "send-proxy-v2-ssl"] as const) {
  relayTest(
    `haproxy ${flavour}: the relay sees and logs the original IPv4 and IPv6 clients`,
    CONFIG,
    (r) => throughHaproxy(r, flavour),
  );
}

/** Expects the banner, then the refusal for every command but QUIT, then 221 and close. */
async function expectRefusalState(c: RawClient): Promise<void> {
  const [banner] = await c.replies(1);
  assertMatch(banner ?? "", /^220 /);
  for (const cmd of ["EHLO client.test", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.org>"]) {
    await c.send(`${cmd}\r\n`);
    assertEquals(await c.replies(1), [REFUSED], cmd);
  }
  for (const cmd of ["DATA", "RSET", "NOOP", "HELO x"]) {
    await c.send(`${cmd}\r\n`);
    assertEquals(await c.replies(1), [REFUSED], cmd);
  }
  await c.send("QUIT\r\n");
  assertMatch((await c.replies(1))[0] ?? "", /^221 /);
  assert(await c.closedByPeer(), "closed after QUIT");
}

/** Connects, sends `bytes` in one write, and expects the refusal state. */
async function refused(r: TestRelay, bytes: Uint8Array): Promise<void> {
  const c = await RawClient.connect(r.port);
  try {
    await c.send(bytes);
    await expectRefusalState(c);
  } finally {
    c.close();
  }
}

const ADDR = { source: ["192.0.2.77", 4242], destination: ["198.51.100.1", 25] } as {
  source: [string, number];
  destination: [string, number];
};

relayTest("a garbage header gets the banner, then 503 for all but QUIT", CONFIG, async (r) => {
  await refused(r, enc.encode("GARBAGE\r\n"));
  await r.waitLog(/PROXY negotiation failed from \[127\.0\.0\.1\]:\d+: .*wrong signature/);
});

relayTest("every malformed header shape leads to the 503-only state", CONFIG, async (r) => {
  const cases: [string, Uint8Array][] = [
    ["wrong signature", enc.encode("EHLO client.test\r\n")],
    ["wrong v2 signature", concat(v2Header(ADDR).slice(0, 11), enc.encode("X\r\n"))],
    ["bad v2 version", v2Header({ ...ADDR, verCmd: 0x31 })],
    ["bad v2 command", v2Header({ ...ADDR, verCmd: 0x2f })],
    ["bad length", v2Header({ ...ADDR, length: 4 })],
    ["v1 over 107 bytes", enc.encode("PROXY UNKNOWN " + "a".repeat(110))],
    ["unknown v1 family", enc.encode("PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n")],
    ["unknown v2 family", v2Header({ ...ADDR, fam: 0x41 })],
    ["bad v1 address", enc.encode("PROXY TCP4 192.0.2.999 192.0.2.2 1 2\r\n")],
    ["bare LF", enc.encode("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n")],
    ["truncated TLV", v2Header({ ...ADDR, tlvs: [new Uint8Array([0x02, 0x00, 0x09, 0x61])] })],
    ["bad CRC32C", v2Header({ ...ADDR, tlvs: [tlv(0x01, "smtp")], crc: "bad" })],
  ];
  for (const [what, bytes] of cases) {
    const before = r.logs.length;
    await refused(r, bytes);
    const failed = r.logs.slice(before).find((l) => /PROXY negotiation failed/.test(l));
    assert(failed, `${what}: failure logged`);
  }
  assertEquals(r.logs.filter((l) => /session error/.test(l)), []);
  assertEquals((await r.messages()).length, 0);
});

relayTest(
  "no header within the deadline: banner after it, then 503 even for a late header",
  CONFIG,
  async (r) => {
    const c = await RawClient.connect(r.port);
    try {
      const started = Date.now();
      const [banner] = await c.replies(1, 4000);
      assertMatch(banner ?? "", /^220 /);
      assert(Date.now() - started >= 900, "banner waited for the PROXY deadline");
      await c.send(v1Header("TCP4", ADDR.source, ADDR.destination));
      assertEquals(await c.replies(1), [REFUSED]);
      await c.send("EHLO client.test\r\n");
      assertEquals(await c.replies(1), [REFUSED]);
      await c.send("QUIT\r\n");
      assertMatch((await c.replies(1))[0] ?? "", /^221 /);
    } finally {
      c.close();
    }
    await r.waitLog(
      /PROXY negotiation failed from \[127\.0\.0\.1\]:\d+: no PROXY header within 1000 ms/,
    );
    assertNotMatch(r.logs.join("\n"), /\[192\.0\.2\.77\]/); // as a peer, not quoted text
  },
);

relayTest("a header from an untrusted host is never honoured", CONFIG, async (r) => {
  const c = await RawClient.connect(port6(r), "::1");
  try {
    const [banner] = await c.replies(1); // untrusted: no negotiation, the banner comes at once
    assertMatch(banner ?? "", /^220 /);
    await c.send(v1Header("TCP4", ADDR.source, ADDR.destination));
    assertMatch((await c.replies(1))[0] ?? "", /^500 /);
    await c.send("EHLO client.test\r\n");
    assertMatch((await c.replies(1))[0] ?? "", /^250 /);
    await c.send("QUIT\r\n");
    await c.replies(1);
  } finally {
    c.close();
  }
  // Sent before the banner: the header is an early talker or a bad command, never honoured.
  const early = await RawClient.connect(port6(r), "::1");
  try {
    await early.send(v2Header(ADDR));
    const replies = await early.replies(2, 1500);
    assertMatch(replies[0] ?? "", /^(220|554) /);
    assert(replies.every((l) => !l.startsWith("250")), replies.join(" | "));
  } finally {
    early.close();
  }
  assertNotMatch(r.logs.join("\n"), /\[192\.0\.2\.77\]/); // as a peer, not quoted text
  assertNotMatch(r.logs.join("\n"), /PROXY negotiation/);
});

relayTest(
  "a header split over many writes is assembled; the session takes its source",
  CONFIG,
  async (r) => {
    const headers = [
      v1Header("TCP6", ["2001:db8::77", 4242], ["2001:db8::1", 25]),
      v2Header({
        ...ADDR,
        tlvs: [
          tlv(0x01, "smtp"),
          tlv(0x02, "mx.example.org"),
          sslTlv(0x01, 0, [tlv(0x21, "TLSv1.3")]),
        ],
        crc: true,
      }),
    ];
    for (const [i, h] of headers.entries()) {
      const c = await RawClient.connect(r.port);
      try {
        for (let at = 0; at < h.length; at += 3) {
          await c.send(h.subarray(at, at + 3));
          await new Promise((res) => setTimeout(res, 2));
        }
        assertMatch((await c.replies(1))[0] ?? "", /^220 /);
        await c.send("EHLO client.test\r\n");
        assertMatch((await c.replies(1))[0] ?? "", /^250 /);
        await c.send("QUIT\r\n");
        await c.replies(1);
      } finally {
        c.close();
      }
      const source = i === 0 ? "\\[2001:db8::77\\]:4242" : "\\[192\\.0\\.2\\.77\\]:4242";
      await r.waitLog(new RegExp(`SMTP connection from H=${source}`));
    }
  },
);

relayTest(
  "a header with pipelined EHLO in one segment: the EHLO is not executed",
  CONFIG,
  async (r) => {
    const c = await RawClient.connect(r.port);
    try {
      await c.send(
        concat(v1Header("TCP4", ADDR.source, ADDR.destination), enc.encode("EHLO x\r\n")),
      );
      await expectRefusalState(c);
    } finally {
      c.close();
    }
    await r.waitLog(
      /PROXY negotiation failed from \[127\.0\.0\.1\]:\d+: input sent before the greeting/,
    );
  },
);

relayTest("v2 LOCAL (a health check) keeps the balancer's own address", CONFIG, async (r) => {
  const c = await RawClient.connect(r.port);
  try {
    await c.send(v2Header({ verCmd: 0x20, crc: true }));
    assertMatch((await c.replies(1))[0] ?? "", /^220 /);
    await c.send("QUIT\r\n");
    await c.replies(1);
  } finally {
    c.close();
  }
  await r.waitLog(/SMTP connection from H=\[127\.0\.0\.1\]:\d+/);
});

/** mulberry32, seeded: the same fuzz run every time. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fuzzHeader(rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n);
  const bases = [
    v1Header("TCP4", ["192.0.2.1", int(65536)], ["192.0.2.2", 25]),
    v2Header({ ...ADDR, tlvs: [tlv(0x01, "smtp"), sslTlv(1, 0)], crc: rand() < 0.5 }),
    v2Header({ verCmd: 0x20 }),
  ];
  const b = bases[int(bases.length)].slice();
  const flips = int(4);
  for (let i = 0; i < flips; i++) b[int(b.length)] = int(256);
  const cut = rand() < 0.3 ? int(b.length) : b.length;
  const tail = new Uint8Array(int(24)).map(() => int(256));
  return concat(b.subarray(0, cut), tail);
}

relayTest("fuzz: 240 random headers, then the relay still serves", CONFIG, async (r) => {
  const rand = prng(0xbadc0de);
  const one = async () => {
    const c = await RawClient.connect(r.port);
    try {
      await c.send(fuzzHeader(rand)).catch(() => {});
      await c.replies(1, 30); // read what comes, do not wait for deadlines
    } finally {
      c.close();
    }
  };
  for (let batch = 0; batch < 12; batch++) await Promise.all(Array.from({ length: 20 }, one));
  const c = await RawClient.connect(r.port);
  try {
    await c.send(v1Header("TCP4", ["192.0.2.200", 1000], ["192.0.2.2", 25]));
    assertMatch((await c.replies(1))[0] ?? "", /^220 /);
    await c.send("EHLO client.test\r\n");
    assertMatch((await c.replies(1))[0] ?? "", /^250 /);
    await c.send("QUIT\r\n");
    await c.replies(1);
  } finally {
    c.close();
  }
  await r.waitLog(/SMTP connection from H=\[192\.0\.2\.200\]:1000/);
  assertEquals(r.logs.filter((l) => /session error|listener .* failed/.test(l)), []);
  await waitFor(() => r.server.sessionCount === 0, { timeoutMs: 3000, what: "no session left" });
});

relayTest(
  "per-host connection limits count the original clients, not the balancer",
  CONFIG + "\n[server]\nmax_connections_per_ip = 1\n",
  async (r) => {
    const open: RawClient[] = [];
    try {
      for (const ip of ["192.0.2.1", "192.0.2.2", "192.0.2.3"]) {
        const c = await RawClient.connect(r.port);
        open.push(c);
        await c.send(v1Header("TCP4", [ip, 1000], ["192.0.2.254", 25]));
        assertMatch((await c.replies(1))[0] ?? "", /^220 /, ip);
      }
      const again = await RawClient.connect(r.port);
      open.push(again);
      await again.send(v1Header("TCP4", ["192.0.2.1", 1001], ["192.0.2.254", 25]));
      assertMatch((await again.replies(1))[0] ?? "", /^421 .*Too many connections from your IP/);
    } finally {
      open.forEach((c) => c.close());
    }
    await r.waitLog(/Connection from \[192\.0\.2\.1\] refused: too many connections from that IP/);
  },
);

relayTest(
  "after a PROXY timeout, bytes sent before it are never read as commands",
  CONFIG,
  async (r) => {
    for (const partial of ["", "PROXY TCP4 192.0.2.77"]) {
      const before = r.logs.length;
      const c = await RawClient.connect(r.port);
      try {
        if (partial) await c.send(partial); // a header cut short, then silence
        const [banner] = await c.replies(1, 4000);
        assertMatch(banner ?? "", /^220 /);
        await c.send("NOOP\r\n");
        assertEquals(await c.replies(1), [REFUSED]);
        await c.send("QUIT\r\n");
        assertMatch((await c.replies(1))[0] ?? "", /^221 /);
      } finally {
        c.close();
      }
      await r.waitLog(/no PROXY header within 1000 ms/);
      assertNotMatch(r.logs.slice(before).join("\n"), /rejected "PROXY/);
    }
  },
);
