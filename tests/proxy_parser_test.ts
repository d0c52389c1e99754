import {
  crc32c,
  parseProxyHeader,
  ProxyHeaderError,
  type ProxyInfo,
  type ProxyParse,
} from "../lib/proxy/mod.ts";
import { assert, assertEquals, assertThrows } from "./helpers/assert.ts";
import { concat, sslTlv, tlv, unixBlock, v1Header, v2Header } from "./helpers/proxy_header.ts";

const enc = new TextEncoder();
const text = (s: string) => enc.encode(s);

function ok(bytes: Uint8Array): { info: ProxyInfo; length: number } {
  const r = parseProxyHeader(bytes);
  assert(r.status === "ok", `expected ok, got ${r.status}`);
  return r;
}

function incomplete(bytes: Uint8Array): void {
  assertEquals(parseProxyHeader(bytes).status, "incomplete");
}

function bad(bytes: Uint8Array, reason: string): void {
  assertThrows(() => parseProxyHeader(bytes), ProxyHeaderError, reason);
}

// ---- v1 -----------------------------------------------------------------------------

Deno.test("parseProxyHeader() reads a v1 TCP4 line", () => {
  const r = ok(text("PROXY TCP4 192.0.2.10 198.51.100.2 56324 25\r\n"));
  assertEquals(r.length, 45);
  assertEquals(r.info, {
    version: 1,
    command: "PROXY",
    family: "TCP4",
    source: { address: "192.0.2.10", port: 56324 },
    destination: { address: "198.51.100.2", port: 25 },
    tlvs: [],
  });
});

Deno.test("parseProxyHeader() reads a v1 TCP6 line and normalises the addresses", () => {
  const r = ok(text("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:192.0.2.7 0 65535\r\n"));
  assertEquals(r.info.family, "TCP6");
  assertEquals(r.info.source, { address: "2001:db8::1", port: 0 });
  assertEquals(r.info.destination, { address: "192.0.2.7", port: 65535 });
});

Deno.test("parseProxyHeader() reads v1 UNKNOWN with and without the ignored rest", () => {
  const short = ok(text("PROXY UNKNOWN\r\nEHLO"));
  assertEquals(short.length, 15);
  assertEquals(short.info, { version: 1, command: "PROXY", family: "UNKNOWN", tlvs: [] });
  const f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const longest = text(`PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`);
  assertEquals(longest.length, 107);
  assertEquals(ok(longest).length, 107);
  assertEquals(ok(text("PROXY UNKNOWN whatever \x01 is here\r\n")).info.source, undefined);
});

Deno.test("parseProxyHeader() rejects a v1 line over 107 bytes without CRLF", () => {
  const line = "PROXY UNKNOWN " + "a".repeat(92);
  incomplete(text(line)); // 106 bytes: CRLF could still come
  bad(text(line + "a"), "v1 line exceeds 107 bytes");
  bad(text(line + "\r\n"), "v1 line exceeds 107 bytes"); // CRLF at bytes 107-108
  bad(text(line + "\r"), "v1 line exceeds 107 bytes"); // no room left for the LF
  incomplete(text(line.slice(0, -1) + "\r")); // 106 bytes: the LF may still arrive
  bad(text(line + "a" + "b".repeat(200)), "exceeds 107");
});

Deno.test("parseProxyHeader() rejects every malformed v1 shape", () => {
  const cases: [string, string][] = [
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", "bare LF"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2\rX", "bare CR"],
    ["PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n", "unknown v1 family"],
    ["PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n", "unknown v1 family"],
    ["PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n", "unknown v1 family"],
    ["PROXY UNKNOWNX\r\n", "unknown v1 family"],
    ["PROXY  TCP4 192.0.2.1 192.0.2.2 1 2\r\n", "unknown v1 family"],
    ["PROXY TCP4\r\n", "needs 4 fields"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", "needs 4 fields"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n", "needs 4 fields"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n", "one space"],
    ["PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n", "one space"],
    ["PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n", "is not IPv4"],
    ["PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n", "is not IPv4"],
    ["PROXY TCP4 192.0.2 192.0.2.2 1 2\r\n", "is not IPv4"],
    ["PROXY TCP4 ::1 192.0.2.2 1 2\r\n", "invalid characters"],
    ["PROXY TCP6 192.0.2.1 ::1 1 2\r\n", "is not IPv6"],
    ["PROXY TCP6 ::1 1::2::3 1 2\r\n", "is not IPv6"],
    ["PROXY TCP6 ::1%eth0 ::2 1 2\r\n", "invalid characters"],
    ["PROXY TCP6 1:2:3:4:5:6:7:8:9 ::2 1 2\r\n", "is not IPv6"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", "is not 0 to 65535"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 025 2\r\n", "is not 0 to 65535"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 -2\r\n", "invalid characters"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 123456 2\r\n", "too long"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2x\r\n", "invalid characters"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\r\n", "bare CR"],
    ["PROXY\tTCP4 192.0.2.1 192.0.2.2 1 2\r\n", "wrong signature"],
    ["proxy TCP4 192.0.2.1 192.0.2.2 1 2\r\n", "wrong signature"],
  ];
  for (const [line, reason] of cases) bad(text(line), reason);
});

Deno.test("parseProxyHeader() rejects non-PROXY bytes at the first byte that differs", () => {
  bad(text("E"), "wrong signature"); // EHLO
  bad(text("G"), "wrong signature"); // GET
  bad(new Uint8Array([0x16]), "wrong signature"); // TLS ClientHello
  bad(text("PROXX"), "wrong signature");
  bad(text("PROXY-"), "wrong signature");
  incomplete(text("PROX"));
  incomplete(text("PROXY "));
});

Deno.test("parseProxyHeader() rejects a bad v1 family or field before the CRLF arrives", () => {
  incomplete(text("PROXY TC"));
  incomplete(text("PROXY UNKN"));
  bad(text("PROXY TCP9"), "unknown v1 family");
  bad(text("PROXY X"), "unknown v1 family");
  bad(text("PROXY TCP4 192.0.2.1x"), "invalid characters");
  bad(text("PROXY TCP4 1922222222222222222"), "too long");
  bad(text("PROXY TCP4 192.0.2.1  "), "one space");
  bad(text("PROXY TCP4 1 2 3 4 5"), "needs 4 fields");
  incomplete(text("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r"));
  incomplete(text("PROXY UNKNOWN \xff anything"));
});

// ---- v2 -----------------------------------------------------------------------------

Deno.test("parseProxyHeader() reads a v2 PROXY TCP over IPv4 header", () => {
  const h = v2Header({ source: ["192.0.2.10", 40000], destination: ["198.51.100.2", 25] });
  assertEquals(h.length, 28);
  const r = ok(h);
  assertEquals(r.length, 28);
  assertEquals(r.info, {
    version: 2,
    command: "PROXY",
    family: "TCP4",
    source: { address: "192.0.2.10", port: 40000 },
    destination: { address: "198.51.100.2", port: 25 },
    tlvs: [],
  });
});

Deno.test("parseProxyHeader() reads v2 TCP6, UDP4, UDP6 and normalises mapped IPv4", () => {
  const six = ok(v2Header({ source: ["2001:db8::5", 1], destination: ["::ffff:192.0.2.1", 2] }));
  assertEquals(six.info.family, "TCP6");
  assertEquals(six.info.source, { address: "2001:db8::5", port: 1 });
  assertEquals(six.info.destination, { address: "192.0.2.1", port: 2 });
  const udp4 = ok(v2Header({ fam: 0x12, source: ["10.0.0.1", 53], destination: ["10.0.0.2", 53] }));
  assertEquals(udp4.info.family, "UDP4");
  const udp6 = ok(v2Header({ fam: 0x22, source: ["::1", 5], destination: ["::2", 6] }));
  assertEquals(udp6.info.family, "UDP6");
  assertEquals(udp6.info.source, { address: "::1", port: 5 });
});

Deno.test("parseProxyHeader() reads v2 UNIX stream and datagram paths with port 0", () => {
  for (const fam of [0x31, 0x32]) {
    const r = ok(v2Header({ fam, addressBlock: unixBlock("/run/client.sock", "/run/relay.sock") }));
    assertEquals(r.length, 16 + 216);
    assertEquals(r.info.family, "UNIX");
    assertEquals(r.info.source, { address: "/run/client.sock", port: 0 });
    assertEquals(r.info.destination, { address: "/run/relay.sock", port: 0 });
  }
  const abstract = unixBlock("\0hidden", "/x");
  assertEquals(ok(v2Header({ fam: 0x31, addressBlock: abstract })).info.source?.address, "@hidden");
});

Deno.test("parseProxyHeader() reads v2 LOCAL without addresses, skipping any address block", () => {
  const bare = ok(v2Header({ verCmd: 0x20 }));
  assertEquals(bare.length, 16);
  assertEquals(bare.info, { version: 2, command: "LOCAL", family: "UNKNOWN", tlvs: [] });
  const withBlock = ok(
    v2Header({ verCmd: 0x20, source: ["192.0.2.1", 1], destination: ["192.0.2.2", 2] }),
  );
  assertEquals(withBlock.length, 28);
  assertEquals(withBlock.info.command, "LOCAL");
  assertEquals(withBlock.info.family, "TCP4");
  assertEquals(withBlock.info.source, undefined);
  assertEquals(withBlock.info.destination, undefined);
  const unspecProxy = ok(v2Header({ verCmd: 0x21, fam: 0x00 }));
  assertEquals(unspecProxy.info.command, "PROXY");
  assertEquals(unspecProxy.info.family, "UNKNOWN");
  assertEquals(unspecProxy.info.source, undefined);
});

Deno.test("parseProxyHeader() reads every registered TLV and keeps unknown ones in order", () => {
  const unique = new Uint8Array(128).map((_, i) => i);
  const tlvs = [
    tlv(0x01, "smtp"),
    tlv(0x02, "mx.exämple.net"),
    tlv(0x04, new Uint8Array(3)),
    tlv(0x05, unique),
    tlv(0xe0, new Uint8Array([1, 2, 3])),
    sslTlv(0x07, 0, [
      tlv(0x21, "TLSv1.3"),
      tlv(0x22, "client.example"),
      tlv(0x23, "TLS_AES_256_GCM_SHA384"),
      tlv(0x24, "RSA-SHA256"),
      tlv(0x25, "RSA2048"),
      tlv(0x99, "ignored"),
    ]),
    tlv(0x30, "blue"),
    tlv(0xf0, new Uint8Array(0)),
  ];
  const h = v2Header({ source: ["192.0.2.1", 1], destination: ["192.0.2.2", 25], tlvs, crc: true });
  const { info, length } = ok(h);
  assertEquals(length, h.length);
  assertEquals(info.alpn, "smtp");
  assertEquals(info.authority, "mx.exämple.net");
  assertEquals(info.uniqueId, unique);
  assertEquals(info.netns, "blue");
  assertEquals(info.crc32cVerified, true);
  assertEquals(info.ssl, {
    client: 0x07,
    verify: 0,
    clientCertConnection: true,
    clientCertSession: true,
    verified: true,
    version: "TLSv1.3",
    cn: "client.example",
    cipher: "TLS_AES_256_GCM_SHA384",
    sigAlg: "RSA-SHA256",
    keyAlg: "RSA2048",
  });
  assertEquals(info.tlvs.map((t) => t.type), [1, 2, 4, 5, 0xe0, 0x20, 0x30, 0xf0, 0x03]);
  assertEquals(info.tlvs[4].value, new Uint8Array([1, 2, 3]));
  assertEquals(info.tlvs[7].value.length, 0);
});

Deno.test("parseProxyHeader() reports an SSL TLV without a verified client certificate", () => {
  const noCert = ok(v2Header({ tlvs: [sslTlv(0x01, 0, [tlv(0x21, "TLSv1.2")])] })).info.ssl;
  assertEquals(noCert?.verified, false);
  assertEquals(noCert?.clientCertConnection, false);
  assertEquals(noCert?.version, "TLSv1.2");
  const failed = ok(v2Header({ tlvs: [sslTlv(0x03, 20)] })).info.ssl;
  assertEquals(failed?.verify, 20);
  assertEquals(failed?.clientCertConnection, true);
  assertEquals(failed?.verified, false);
});

Deno.test("parseProxyHeader() verifies CRC32C over the whole header and copies TLV values", () => {
  assertEquals(crc32c(text("123456789")), 0xe3069283);
  assertEquals(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4
  const h = v2Header({ verCmd: 0x20, tlvs: [tlv(0x04, "pad")], crc: true });
  const r = ok(h);
  assertEquals(r.info.crc32cVerified, true);
  h[h.length - 1] ^= 0xff; // the parser kept its own copy of the values
  assertEquals(r.info.tlvs[1].value.length, 4);
  assertEquals(ok(v2Header({})).info.crc32cVerified, undefined);
});

Deno.test("parseProxyHeader() rejects every malformed v2 shape", () => {
  const addr = { source: ["192.0.2.1", 1], destination: ["192.0.2.2", 2] } as const;
  const a = { source: [...addr.source], destination: [...addr.destination] } as {
    source: [string, number];
    destination: [string, number];
  };
  const cases: [Uint8Array, string][] = [
    [v2Header({ ...a, verCmd: 0x11 }), "unsupported v2 version 1"],
    [v2Header({ ...a, verCmd: 0x31 }), "unsupported v2 version 3"],
    [v2Header({ ...a, verCmd: 0x22 }), "unknown v2 command 2"],
    [v2Header({ ...a, verCmd: 0x2f }), "unknown v2 command 15"],
    [v2Header({ ...a, fam: 0x13 }), "unknown v2 family and protocol 0x13"],
    [v2Header({ ...a, fam: 0x41 }), "unknown v2 family and protocol 0x41"],
    [v2Header({ ...a, fam: 0x10 }), "unknown v2 family and protocol 0x10"],
    [v2Header({ ...a, fam: 0x21 }), "too short for TCP6"],
    [v2Header({ ...a, length: 11 }), "v2 length 11 is too short for TCP4"],
    [v2Header({ fam: 0x31, addressBlock: new Uint8Array(100) }), "too short for UNIX"],
    [v2Header({ ...a, tlvs: [new Uint8Array([0x01, 0x00])] }), "truncated TLV header"],
    [v2Header({ ...a, tlvs: [new Uint8Array([0x01, 0x00, 0x05, 0x61])] }), "overruns"],
    [v2Header({ ...a, tlvs: [tlv(0x02, "a"), new Uint8Array([0xe0])] }), "truncated TLV"],
    [v2Header({ ...a, crc: "bad" }), "CRC32C mismatch"],
    [v2Header({ ...a, tlvs: [tlv(0x03, new Uint8Array(3))] }), "CRC32C TLV must be 4 bytes"],
    [v2Header({ ...a, tlvs: [tlv(0x05, new Uint8Array(129))] }), "UNIQUE_ID TLV exceeds 128"],
    [v2Header({ ...a, tlvs: [tlv(0x02, "a".repeat(256))] }), "AUTHORITY TLV exceeds 255"],
    [v2Header({ ...a, tlvs: [tlv(0x02, new Uint8Array([0xc3, 0x28]))] }), "not valid UTF-8"],
    [v2Header({ ...a, tlvs: [tlv(0x02, "a"), tlv(0x02, "b")] }), "TLV 0x02 appears twice"],
    [v2Header({ ...a, tlvs: [tlv(0x30, "a\nb")] }), "not printable US-ASCII"],
    [v2Header({ ...a, tlvs: [tlv(0x20, new Uint8Array(4))] }), "SSL TLV is shorter than 5"],
    [v2Header({ ...a, tlvs: [sslTlv(1, 0, [new Uint8Array([0x21, 0, 9, 0x41])])] }), "SSL sub-TLV"],
    [v2Header({ ...a, tlvs: [sslTlv(1, 0, [tlv(0x21, "a"), tlv(0x21, "b")])] }), "appears twice"],
    [v2Header({ ...a, tlvs: [sslTlv(1, 0, [tlv(0x23, "\xff")])] }), "not printable US-ASCII"],
  ];
  for (const [bytes, reason] of cases) bad(bytes, reason);
});

Deno.test("parseProxyHeader() rejects a wrong v2 signature, version or family as early as possible", () => {
  const h = v2Header({ source: ["192.0.2.1", 1], destination: ["192.0.2.2", 2] });
  for (let i = 0; i < 12; i++) {
    const wrong = h.slice(0, i + 1);
    wrong[i] ^= 0x40;
    bad(wrong, "wrong signature");
  }
  incomplete(h.slice(0, 12));
  bad(concat(h.slice(0, 12), new Uint8Array([0x11])), "unsupported v2 version");
  bad(concat(h.slice(0, 12), new Uint8Array([0x25])), "unknown v2 command");
  bad(concat(h.slice(0, 13), new Uint8Array([0x44])), "unknown v2 family");
  bad(concat(h.slice(0, 14), new Uint8Array([0, 4])), "too short for TCP4");
  incomplete(h.slice(0, 16)); // length 12 announced, addresses still to come
});

// ---- streaming ----------------------------------------------------------------------

Deno.test("parseProxyHeader() stays incomplete until the last byte of a split header", () => {
  const headers = [
    v1Header("TCP4", ["192.0.2.1", 1234], ["192.0.2.2", 25]),
    v1Header("TCP6", ["2001:db8::1", 1234], ["2001:db8::2", 25]),
    text("PROXY UNKNOWN\r\n"),
    v2Header({
      source: ["2001:db8::1", 1],
      destination: ["2001:db8::2", 25],
      tlvs: [tlv(0x01, "smtp"), sslTlv(1, 0, [tlv(0x21, "TLSv1.3")])],
      crc: true,
    }),
  ];
  for (const h of headers) {
    for (let n = 0; n < h.length; n++) incomplete(h.subarray(0, n));
    assertEquals(ok(h).length, h.length);
  }
});

Deno.test("parseProxyHeader() returns the header length when SMTP is pipelined behind it", () => {
  const smtp = text("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n");
  for (
    const h of [
      v1Header("TCP4", ["192.0.2.1", 1234], ["192.0.2.2", 25]),
      v2Header({ source: ["192.0.2.1", 1], destination: ["192.0.2.2", 25], crc: true }),
    ]
  ) {
    const r = ok(concat(h, smtp));
    assertEquals(r.length, h.length);
    assertEquals(r.info.source?.address, "192.0.2.1");
  }
  // A v2 header whose TLV area would swallow the SMTP bytes is not finished yet.
  const lying = v2Header({ source: ["192.0.2.1", 1], destination: ["192.0.2.2", 25], length: 40 });
  incomplete(lying);
  bad(concat(lying, smtp), "overruns");
});

// ---- fuzz ---------------------------------------------------------------------------

/** mulberry32: a small deterministic PRNG so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seeds(rand: () => number): Uint8Array[] {
  const int = (n: number) => Math.floor(rand() * n);
  return [
    v1Header("TCP4", ["192.0.2.1", int(65536)], ["198.51.100.7", 25]),
    v1Header("TCP6", ["2001:db8::1", int(65536)], ["::ffff:192.0.2.9", 587]),
    text("PROXY UNKNOWN\r\n"),
    v2Header({ source: ["192.0.2.1", int(65536)], destination: ["192.0.2.2", 25], crc: true }),
    v2Header({
      source: ["2001:db8::1", 1],
      destination: ["2001:db8::2", 2],
      tlvs: [tlv(1, "h2"), tlv(2, "mx"), tlv(5, "id"), sslTlv(7, 0, [tlv(0x21, "TLSv1.3")])],
    }),
    v2Header({ verCmd: 0x20, crc: rand() < 0.5 }),
    v2Header({ fam: 0x31, addressBlock: unixBlock("/a", "/b"), tlvs: [tlv(0x30, "ns")] }),
  ];
}

function mutate(h: Uint8Array, rand: () => number): Uint8Array {
  const int = (n: number) => Math.floor(rand() * n);
  let b: Uint8Array = h.slice();
  const rounds = 1 + int(4);
  for (let r = 0; r < rounds; r++) {
    const at = int(b.length + 1);
    switch (int(6)) {
      case 0: // flip a byte
        if (b.length) b[Math.min(at, b.length - 1)] = int(256);
        break;
      case 1: // truncate
        b = b.slice(0, at);
        break;
      case 2: // insert random bytes
        b = concat(b.slice(0, at), randomBytes(int(8), rand), b.slice(at));
        break;
      case 3: // delete a byte
        b = concat(b.slice(0, at), b.slice(at + 1));
        break;
      case 4: // append pipelined data
        b = concat(b, text("EHLO x\r\n"), randomBytes(int(40), rand));
        break;
      case 5: // set the v2 length field to anything
        if (b.length >= 16) new DataView(b.buffer).setUint16(14, int(65536));
        break;
    }
  }
  return b;
}

function randomBytes(n: number, rand: () => number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function randomInput(rand: () => number): Uint8Array {
  const kind = rand();
  const pool = seeds(rand);
  if (kind < 0.7) return mutate(pool[Math.floor(rand() * pool.length)], rand);
  const b = randomBytes(Math.floor(rand() * 300), rand);
  if (b.length && kind < 0.85) b[0] = rand() < 0.5 ? 0x50 : 0x0d;
  if (b.length >= 13 && kind < 0.8) b.set(v2Header({}).subarray(0, 13));
  return b;
}

Deno.test("parseProxyHeader() fuzz: 20,000 random and mutated headers only return or throw ProxyHeaderError", () => {
  const rand = prng(0x5eed);
  const started = performance.now();
  const counts = { ok: 0, incomplete: 0, error: 0 };
  for (let i = 0; i < 20_000; i++) {
    const bytes = randomInput(rand);
    let r: ProxyParse;
    try {
      r = parseProxyHeader(bytes);
    } catch (e) {
      assert(e instanceof ProxyHeaderError, `case ${i}: ${e}`);
      assert(e.message.startsWith("Cannot parse PROXY header: "), e.message);
      counts.error++;
      continue;
    }
    counts[r.status]++;
    if (r.status !== "ok") continue;
    // The header alone parses the same; every shorter prefix is incomplete (sampled).
    assert(r.length > 0 && r.length <= bytes.length, `case ${i}: length ${r.length}`);
    const alone = parseProxyHeader(bytes.subarray(0, r.length));
    assert(alone.status === "ok" && alone.length === r.length, `case ${i}: header alone`);
    if (i % 20 === 0) {
      for (let n = 0; n < r.length; n++) incomplete(bytes.subarray(0, n));
    }
  }
  const ms = performance.now() - started;
  assert(counts.ok > 500 && counts.error > 5000 && counts.incomplete > 500, JSON.stringify(counts));
  // Speed is measured in bench/, not asserted here (a loaded machine would fail it).
  // deno-lint-ignore no-console
  console.log(`fuzz: 20,000 headers in ${Math.round(ms)} ms`);
});
