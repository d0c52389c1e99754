/**
 * The relay's server side of STARTTLS on the OpenSSL engine, met by real clients: openssl
 * s_client with SNI, swaks, and a Python client that floods after STARTTLS.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { swaks } from "./helpers/clients.ts";
import { Pki } from "./helpers/pki.ts";
import { relayCli, spawnRelay } from "./helpers/relay.ts";

const dir = await Deno.makeTempDir({ prefix: "relay-tls-server-" });
const pki = await Pki.create(dir);
const mx = await pki.issue("mx", { dns: ["mx.a.test"] });
const wild = await pki.issue("wild", { dns: ["*.b.test"] });
const dec = new TextDecoder();

/** `openssl s_client -starttls smtp` with SNI; returns the subject the relay presented. */
async function presentedSubject(port: number, sni: string): Promise<string> {
  const p = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-starttls",
      "smtp",
      "-servername",
      sni,
      "-CAfile",
      pki.rootFile,
      "-verify_return_error",
      "-brief",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(15000),
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode("QUIT\r\n"));
  await w.close();
  const r = await p.output();
  const out = dec.decode(r.stdout) + dec.decode(r.stderr);
  assertEquals(r.code, 0, out);
  return /Peer certificate: (.*)/.exec(out)?.[1] ?? out;
}

const SNI_TOML = `[[tls.certificate]]\ncertificate = "${mx.chain}"\nprivate_key = "${mx.key}"\n` +
  `[[tls.certificate]]\ncertificate = "${wild.chain}"\nprivate_key = "${wild.key}"\n`;

Deno.test("STARTTLS picks the certificate by SNI; an unknown name gets the first", async () => {
  const d = await Deno.makeTempDir({ dir });
  const relay = await spawnRelay(d, SNI_TOML);
  try {
    assertMatch(await presentedSubject(relay.port, "mx.a.test"), /CN ?= ?mx\.a\.test/);
    assertMatch(await presentedSubject(relay.port, "smtp.b.test"), /CN ?= ?\*\.b\.test/);
    assertMatch(await presentedSubject(relay.port, "other.test"), /CN ?= ?mx\.a\.test/);
    // A whole transaction over TLS with a real client.
    const res = await swaks(relay.port, [
      "--tls",
      "--tls-sni",
      "smtp.b.test",
      "--from",
      "a@example.com",
      "--to",
      "b@example.org",
    ]);
    assertEquals(res.code, 0, res.stdout + res.stderr);
    assertMatch(res.stdout, /TLS started/);
  } finally {
    await relay.stop();
  }
});

async function startFails(toml: string): Promise<string> {
  const d = await Deno.makeTempDir({ dir });
  await Deno.writeTextFile(`${d}/relay.toml`, `[server]\nspool = "${d}/spool"\n${toml}`);
  const r = await relayCli(["serve", "--config", `${d}/relay.toml`]);
  assert(r.code !== 0, "the relay must not start");
  return r.stdout + r.stderr;
}

Deno.test("a key that does not match its certificate stops start-up, naming both files", async () => {
  const out = await startFails(
    `[tls]\ncertificate = "${mx.chain}"\nprivate_key = "${wild.key}"\n`,
  );
  assertMatch(out, new RegExp(`private key ${wild.key} does not match the certificate`));
  assertMatch(out, new RegExp(mx.chain.replaceAll(".", "\\.")));
});

Deno.test("an expired certificate or a broken chain file stops start-up with the date", async () => {
  const old = await pki.issue("old", {
    dns: ["old.a.test"],
    notBefore: "20200101000000Z",
    notAfter: "20210101000000Z",
  });
  const out = await startFails(`[tls]\ncertificate = "${old.chain}"\nprivate_key = "${old.key}"\n`);
  assertMatch(
    out,
    /certificate \/CN=old\.a\.test in .*old\.chain\.pem expired on Jan +1 00:00:00 2021/,
  );
  const junk = `${dir}/junk.pem`;
  await Deno.writeTextFile(junk, "-----BEGIN CERTIFICATE-----\nnot base64\n");
  const out2 = await startFails(`[tls]\ncertificate = "${junk}"\nprivate_key = "${mx.key}"\n`);
  assertMatch(out2, /Cannot load the certificate chain .*junk\.pem/);
});

const FLOOD = `
import os, socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if l[3:4] != b"-": return l
reply()
s.sendall(b"EHLO flood.test\\r\\n"); reply()
s.sendall(b"STARTTLS\\r\\n"); reply()
t = ssl.create_default_context(); t.check_hostname = False; t.verify_mode = ssl.CERT_NONE
t = t.wrap_socket(s, server_hostname="mx.a.test")
t.sendall(b"EHLO flood.test\\r\\n")
print("flooding", flush=True)
t.sendall(b"RSET\\r\\n" * (30 * 1024 * 1024 // 6))  # never reads a reply
print("sent all", flush=True)
`;

Deno.test("a client flooding pipelined RSET over TLS without reading stalls only itself", async () => {
  const d = await Deno.makeTempDir({ dir });
  const relay = await spawnRelay(d, SNI_TOML);
  const flood = new Deno.Command("python3", {
    args: ["-c", FLOOD],
    env: { PORT: String(relay.port) },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  try {
    const reader = flood.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    assertMatch(first.value ?? "", /flooding/);
    // The socket buffers fill first (megabytes of replies); once they are full the flooding
    // session waits on its writes and the relay goes idle. Wait for that, at most 10 s.
    const cpu = async () => {
      const f = (await Deno.readTextFile(`/proc/${relay.child.pid}/stat`)).split(") ")[1];
      const v = f.split(" ");
      return Number(v[11]) + Number(v[12]); // utime + stime in ticks
    };
    for (let i = 0, last = -1; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await cpu();
      if (now === last) break;
      last = now;
    }
    const t0 = performance.now();
    const res = await swaks(relay.port, ["--tls", "--from", "a@example.com", "--to", "b@x.org"]);
    const ms = performance.now() - t0;
    assertEquals(res.code, 0, res.stdout + res.stderr);
    assert(ms < 1000, `second client took ${ms.toFixed(0)} ms`);
    // The relay is still fine and its memory did not follow the flood.
    const status = await Deno.readTextFile(`/proc/${relay.child.pid}/status`);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    assert(rss < 200, `relay RSS ${rss.toFixed(0)} MB`);
    reader.releaseLock();
  } finally {
    flood.kill("SIGKILL");
    await flood.output().catch(() => {});
    await relay.stop();
  }
});
