/**
 * `relay serve` delivering with `tls = "verify"` and `tls_ca_file` = a private CA to real
 * Postfix instances with STARTTLS (`smtpd_tls_security_level = may`, hold mode): a good chain
 * with the right name is delivered and logged CV=yes; an expired leaf and a wrong-name leaf are
 * deferred with 4.7.5 and never retried in clear text. Two transports at different levels to the
 * same Postfix, with connection reuse on, use one connection per policy (from Postfix's log).
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { swaks } from "./helpers/clients.ts";
import { TestDnsServer } from "./helpers/dns_server.ts";
import { Pki } from "./helpers/pki.ts";
import { type PostfixInstance, startPostfix } from "./helpers/postfix.ts";
import { type RelayProcess, spawnRelay } from "./helpers/relay.ts";

const dir = await Deno.makeTempDir({ prefix: "relay-tls-postfix-" });
await Deno.chmod(dir, 0o755);
const pki = await Pki.create(dir);
const day = 86400_000;
const stamp = (t: number) => new Date(t).toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
const certs = {
  good: await pki.issue("good", { dns: ["good.pf.test"] }),
  expired: await pki.issue("expired", {
    dns: ["expired.pf.test"],
    notBefore: stamp(Date.now() - 30 * day),
    notAfter: stamp(Date.now() - day),
  }),
  // Served by wrong.pf.test, but names another host.
  wrong: await pki.issue("wrong", { dns: ["other.pf.test"] }),
};

function tlsPostfix(name: keyof typeof certs): Promise<PostfixInstance> {
  return startPostfix({
    mode: "hold",
    hostname: `${name}.pf.test`,
    main: {
      smtpd_tls_security_level: "may",
      smtpd_tls_cert_file: certs[name].chain,
      smtpd_tls_key_file: certs[name].key,
      smtpd_tls_loglevel: "1",
    },
  });
}

let peers: Record<keyof typeof certs, PostfixInstance> | undefined;
let dns: TestDnsServer | undefined;
let relay: RelayProcess | undefined;

/** Sends one message through the relay and waits for its `=>` or `==` line. */
async function send(to: string): Promise<string> {
  const r = await swaks(relay!.port, ["--to", to, "--from", "a@example.com"]);
  assertEquals(r.code, 0, r.stdout);
  const re = new RegExp(` (=>|==) ${to.replace(/[.]/g, "\\.")} `);
  const until = Date.now() + 15_000;
  for (;;) {
    const hit = relay!.lines.find((l) => re.test(l));
    if (hit) return hit;
    if (Date.now() > until) {
      throw new Error(`no delivery line for ${to}:\n${relay!.lines.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

const t = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

t("start three Postfix peers with STARTTLS and the relay", async () => {
  const [good, expired, wrong] = await Promise.all([
    tlsPostfix("good"),
    tlsPostfix("expired"),
    tlsPostfix("wrong"),
  ]);
  peers = { good, expired, wrong };
  dns = await TestDnsServer.start(
    ["good", "expired", "wrong"].map((n) => ({
      name: `${n}.pf.test`,
      type: "A",
      data: "127.0.0.1",
    })),
  );
  const transport = (name: string, host: string, port: number, tls: string) =>
    `[transport.${name}]\ndriver = "smtp"\nhosts = ["${host}:${port}"]\ntls = "${tls}"\n` +
    `tls_ca_file = "${pki.rootFile}"\nidle_timeout = "30s"\nconnect_timeout = "5s"\n`;
  const route = (domain: string, name: string) =>
    `[[route]]\ndomains = "${domain}"\ntransport = "${name}"\n`;
  relay = await spawnRelay(
    await Deno.makeTempDir({ dir }),
    `[dns]\nservers = ["${dns.address}"]\ntimeout = "2s"\n` +
      route("good.test", "good") + route("expired.test", "expired") +
      route("wrong.test", "wrong") + route("enc.test", "enc") +
      transport("good", "good.pf.test", good.port, "verify") +
      transport("expired", "expired.pf.test", expired.port, "verify") +
      transport("wrong", "wrong.pf.test", wrong.port, "verify") +
      // The same Postfix as `good`, by the same name, at a lower level.
      transport("enc", "good.pf.test", good.port, "encrypt"),
  );
});

t("verify: a good chain with the right name is delivered over TLS, logged CV=yes", async () => {
  const line = await send("u1@good.test");
  assertMatch(
    line,
    / => u1@good\.test T=good H=good\.pf\.test \[127\.0\.0\.1\]:\d+ X=TLS\S+ CV=yes /,
  );
  assertEquals(await peers!.good.queueCount("hold"), 1);
  assertMatch(await peers!.good.log(), /TLS connection established from/);
});

t("verify: an expired leaf is deferred with 4.7.5 naming the expiry, no clear text", async () => {
  const line = await send("u1@expired.test");
  assertMatch(line, / == u1@expired\.test T=expired .*defer: 4\.7\.5 .*expired/);
  assertEquals(await peers!.expired.queueCount(), 0);
  // One session: it ended after STARTTLS (no MAIL), and no clear-text session followed.
  const log = await peers!.expired.log();
  // (The start-up probe connected too, but sent no EHLO.)
  assertEquals((log.match(/ disconnect from .* ehlo=/g) ?? []).length, 1, log);
  assertMatch(log, /disconnect from .* ehlo=1 starttls=1 commands=2/);
  assert(!/ mail=/.test(log), log);
});

t("verify: a wrong-name leaf is deferred with 4.7.5 naming both names", async () => {
  const line = await send("u1@wrong.test");
  assertMatch(line, / == u1@wrong\.test T=wrong .*defer: 4\.7\.5 .*does not name wrong\.pf\.test/);
  assertMatch(line, /DNS:other\.pf\.test/);
  assertEquals(await peers!.wrong.queueCount(), 0);
  assert(!/ mail=/.test(await peers!.wrong.log()));
});

t("connection reuse never crosses policies: verify and encrypt to one Postfix", async () => {
  // Interleaved, each delivered before the next; both transports keep idle connections 30 s.
  const lines = [];
  for (const to of ["u2@good.test", "u1@enc.test", "u3@good.test", "u2@enc.test"]) {
    lines.push(await send(to));
  }
  for (const l of lines) {
    assertMatch(l, /=> /);
    assertMatch(l, / T=good .*CV=yes| T=enc .*CV=no/);
  }
  // Postfix: the smtpd connection each queue id came in on (the whole log: the verify
  // transport may still hold the connection it opened for u1@good.test), and the transport
  // that sent each one (the relay's C="... queued as ID").
  const conns: string[][] = [];
  const open = new Map<string, string[]>();
  for (const l of (await peers!.good.log()).split("\n")) {
    const pid = /smtpd\[(\d+)\]/.exec(l)?.[1];
    if (!pid) continue;
    if (/: connect from /.test(l)) {
      const c: string[] = [];
      open.set(pid, c);
      conns.push(c);
    }
    const q = /: ([0-9A-F]{6,}): client=/.exec(l)?.[1];
    if (q) open.get(pid)?.push(q);
  }
  const transportOf = new Map<string, string>();
  for (const l of lines) {
    const q = /queued as ([0-9A-F]+)/.exec(l)?.[1];
    assert(q, l);
    transportOf.set(q, / T=good /.test(l) ? "good" : "enc");
  }
  const used = conns.map((c) => c.filter((q) => transportOf.has(q))).filter((c) => c.length > 0);
  assertEquals(used.length, 2, `one connection per policy: ${JSON.stringify(conns)}`);
  for (const c of used) {
    assertEquals(c.length, 2, "each connection carried both messages of its transport");
    assertEquals(new Set(c.map((q) => transportOf.get(q))).size, 1, "no connection shared");
  }
});

t("shutdown", async () => {
  await relay?.stop();
  dns?.close();
  for (const p of Object.values(peers ?? {})) await p.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});
