/**
 * TLS benchmark: inbound STARTTLS sessions per second against the relay and a private Postfix,
 * then outbound deliveries per second from the relay to a Postfix peer with STARTTLS at
 * `tls = "verify"` (and "none" for comparison). See bench/README.md.
 *
 * `deno task bench:tls [--sessions N] [--concurrency N] [--messages N] [--rounds N]`
 */
import { parseArgs } from "node:util";
import { Pki } from "../tests/helpers/pki.ts";
import { TestDnsServer } from "../tests/helpers/dns_server.ts";
import { DnssecBed } from "../tests/helpers/dnssec.ts";
import { freePort, smtpSource, startPostfix, waitListening } from "../tests/helpers/postfix.ts";
import { waitFor } from "../tests/helpers/wait.ts";
import { countSpool, startRelay } from "./_relay.ts";
import { makeBody } from "./_smtp_client.ts";
import { cpuMs, loadAverage, treeCpuMs } from "./_proc.ts";
import { fmt, note, print, table } from "./_out.ts";
import { tlsLoad } from "./_tls_client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "20" },
    messages: { type: "string", default: "1000" },
    rounds: { type: "string", default: "2" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  print(`bench/tls.ts: STARTTLS sessions/s (relay vs Postfix) and outbound deliveries/s
  --sessions N     inbound STARTTLS sessions per run, one 10 KiB message each (default 2000)
  --concurrency N  concurrent sessions (default 20)
  --messages N     outbound messages per run (default 1000)
  --rounds N       rounds, relay and Postfix interleaved; medians reported (default 2)`);
  Deno.exit(0);
}
const SESSIONS = Number(values.sessions);
const CONCURRENCY = Number(values.concurrency);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const WARMUP = 100;
const SIZE = 10 * 1024;
const PEER_NAME = "peer.bench.test";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const dir = await Deno.makeTempDir({ prefix: "bench-tls-" });
await Deno.chmod(dir, 0o755); // Postfix's smtpd reads the key as root, the chain later too
const pki = await Pki.create(dir);
const cert = await pki.issue("server", { dns: [PEER_NAME, "relay.bench.test"] });
for (const f of [cert.chain, cert.key, pki.rootFile]) await Deno.chmod(f, 0o644);
const body = makeBody(SIZE, 0);

const tlsMain = {
  smtpd_tls_security_level: "may",
  smtpd_tls_cert_file: cert.chain,
  smtpd_tls_key_file: cert.key,
  smtpd_tls_loglevel: "1",
};

interface Inbound {
  target: string;
  perSec: number;
  cpuPerSession?: number;
  clientCpuPerSession?: number;
  arrived: number;
  sent: number;
  load: number;
}

async function inboundRelay(): Promise<Inbound> {
  const tlsPort = freePort();
  const relay = await startRelay({
    extraToml: `[tls]\ncertificate = "${cert.chain}"\nprivate_key = "${cert.key}"\n` +
      `[queue]\ndeliver = false\n` +
      `[[listen]]\naddress = "127.0.0.1:${tlsPort}"\nstarttls = true\n`,
  });
  try {
    await waitListening(tlsPort);
    const o = { port: tlsPort, caFile: pki.rootFile, serverName: "relay.bench.test", body };
    await tlsLoad({ ...o, count: WARMUP, concurrency: CONCURRENCY });
    const load = loadAverage();
    const cpu0 = await cpuMs(relay.pid);
    const self0 = await cpuMs(Deno.pid);
    const ms = await tlsLoad({ ...o, count: SESSIONS, concurrency: CONCURRENCY });
    const self1 = await cpuMs(Deno.pid);
    const cpu1 = await cpuMs(relay.pid);
    await relay.stop();
    const arrived = await countSpool(relay.spool);
    return {
      target: "relay",
      perSec: SESSIONS / (ms / 1000),
      cpuPerSession: cpu0 !== undefined && cpu1 !== undefined
        ? (cpu1 - cpu0) / SESSIONS
        : undefined,
      clientCpuPerSession: self0 !== undefined && self1 !== undefined
        ? (self1 - self0) / SESSIONS
        : undefined,
      arrived,
      sent: WARMUP + SESSIONS,
      load,
    };
  } finally {
    await relay.stop();
    await relay.cleanup();
  }
}

async function inboundPostfix(): Promise<Inbound> {
  const pf = await startPostfix({ mode: "hold", hostname: PEER_NAME, main: tlsMain });
  try {
    const o = { port: pf.port, caFile: pki.rootFile, serverName: PEER_NAME, body };
    await tlsLoad({ ...o, count: WARMUP, concurrency: CONCURRENCY });
    const load = loadAverage();
    const cpu0 = await treeCpuMs(pf.masterPid);
    const self0 = await cpuMs(Deno.pid);
    const ms = await tlsLoad({ ...o, count: SESSIONS, concurrency: CONCURRENCY });
    const self1 = await cpuMs(Deno.pid);
    const cpu1 = await treeCpuMs(pf.masterPid);
    const sent = WARMUP + SESSIONS;
    await waitFor(async () => (await pf.queueCount("hold")) >= sent, {
      timeoutMs: 10_000,
      what: "the hold queue",
    }).catch(() => {});
    return {
      target: "postfix (hold)",
      perSec: SESSIONS / (ms / 1000),
      cpuPerSession: cpu0 !== undefined && cpu1 !== undefined
        ? (cpu1 - cpu0) / SESSIONS
        : undefined,
      clientCpuPerSession: self0 !== undefined && self1 !== undefined
        ? (self1 - self0) / SESSIONS
        : undefined,
      arrived: await pf.queueCount("hold"),
      sent,
      load,
    };
  } finally {
    await pf.stop();
  }
}

interface Outbound {
  mode: string;
  perSec: number;
  arrived: number;
  handshakes: number;
  load: number;
}

/** How the relay delivers to the peer in an outbound run. */
type OutMode = "verify" | "verify, no reuse" | "none" | "dane-only (3 1 1)";

/**
 * smtp-source (clear text) -> relay -> Postfix hold peer over STARTTLS; timed to the last
 * arrival. `dane-only` delivers by MX through the DNSSEC test bed (nsd + unbound) to a domain
 * whose MX host has a `3 1 1` TLSA record for the peer's key.
 */
async function outbound(mode: OutMode): Promise<Outbound> {
  const pf = await startPostfix({ mode: "hold", hostname: PEER_NAME, main: tlsMain });
  const dane = mode.startsWith("dane");
  const bed = dane
    ? await DnssecBed.start([{
      name: "dane.bench.test",
      records: [
        "dane.bench.test. IN MX 10 mx.dane.bench.test.",
        "mx IN A 127.0.0.1",
        `_${pf.port}._tcp.mx IN TLSA 3 1 1 ${await pki.tlsaHash(cert.cert, 1)}`,
      ],
    }])
    : undefined;
  const dns = dane
    ? undefined
    : await TestDnsServer.start([{ name: PEER_NAME, type: "A", data: "127.0.0.1" }]);
  const tls = mode.split(/[ ,]/)[0];
  const transport = dane
    ? `port = ${pf.port}\ntls = "dane-only"\n`
    : `hosts = ["${PEER_NAME}:${pf.port}"]\ntls = "${tls}"\ntls_ca_file = "${pki.rootFile}"\n` +
      `idle_timeout = "${mode === "verify, no reuse" ? 0 : 5}s"\n`;
  const relay = await startRelay({
    extraToml: `[dns]\nservers = ["${bed?.resolverAddress ?? dns!.address}"]\n` +
      `[[route]]\ndomains = "*"\ntransport = "peer"\n` +
      `[transport.peer]\ndriver = "smtp"\n${transport}`,
  });
  try {
    const load = loadAverage();
    const t0 = performance.now();
    const src = await smtpSource({
      port: relay.port,
      messages: MESSAGES,
      sessions: CONCURRENCY,
      size: SIZE,
      to: dane ? "sink@dane.bench.test" : "sink@example.com",
    });
    if (!src.success) throw new Error(`smtp-source failed: ${src.stderr}`);
    await waitFor(async () => (await pf.queueCount("hold")) >= MESSAGES, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: `${MESSAGES} messages at the peer`,
    }).catch((e: Error) => note(`WARNING ${e.message}`));
    const ms = performance.now() - t0;
    const log = await pf.log();
    return {
      mode,
      perSec: MESSAGES / (ms / 1000),
      arrived: await pf.queueCount("hold"),
      handshakes: (log.match(/TLS connection established from/g) ?? []).length,
      load,
    };
  } finally {
    await relay.stop();
    await relay.cleanup();
    await pf.stop();
    dns?.close();
    await bed?.close();
  }
}

const inbound: Inbound[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 ? [inboundRelay, inboundPostfix] : [inboundPostfix, inboundRelay];
  for (const run of order) {
    note(
      `round ${round}: ${run === inboundRelay ? "relay" : "postfix"} inbound, load ${
        fmt(loadAverage(), 2)
      }`,
    );
    const r = await run();
    note(`  ${r.target}: ${fmt(r.perSec)} sessions/s`);
    inbound.push(r);
  }
}
const outRuns: Outbound[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const modes: OutMode[] = ["verify", "verify, no reuse", "none", "dane-only (3 1 1)"];
  for (const mode of modes) {
    note(`round ${round}: outbound tls=${mode}, load ${fmt(loadAverage(), 2)}`);
    const r = await outbound(mode);
    note(`  ${fmt(r.perSec)} deliveries/s`);
    outRuns.push(r);
  }
}

print(
  `\nInbound: ${SESSIONS} STARTTLS sessions (EHLO, STARTTLS, EHLO, MAIL, RCPT, DATA 10 KiB, ` +
    `QUIT), ${CONCURRENCY} concurrent; load client: lib/tls upgradeClient (OpenSSL FFI); ` +
    `medians of ${ROUNDS} rounds\n`,
);
const rows = [[
  "target",
  "sessions/s",
  "CPU ms/session",
  "client CPU ms/session",
  "arrived/sent",
  "load1 before",
]];
const med: Record<string, number> = {};
for (const target of ["relay", "postfix (hold)"]) {
  const rs = inbound.filter((r) => r.target === target);
  med[target] = median(rs.map((r) => r.perSec));
  const cpus = rs.map((r) => r.cpuPerSession).filter((c): c is number => c !== undefined);
  rows.push([
    target,
    fmt(med[target]),
    cpus.length ? fmt(median(cpus), 2) : "-",
    fmt(median(rs.map((r) => r.clientCpuPerSession ?? NaN)), 2),
    rs.map((r) => `${r.arrived}/${r.sent}`).join(" "),
    rs.map((r) => fmt(r.load, 2)).join(" "),
  ]);
  for (const r of rs) if (r.arrived !== r.sent) note(`WARNING ${target}: ${r.arrived}/${r.sent}`);
}
print(table(rows));
print(`\nratio relay/postfix: sessions/s ${fmt(med.relay / med["postfix (hold)"], 2)}x`);

print(
  `\nOutbound: ${MESSAGES} x 10 KiB, smtp-source (${CONCURRENCY} sessions, clear text) -> ` +
    `relay -> Postfix hold peer with STARTTLS; medians of ${ROUNDS} rounds\n`,
);
const orows = [["relay tls", "deliveries/s", "TLS handshakes at peer", "arrived", "load1 before"]];
for (const mode of [...new Set(outRuns.map((r) => r.mode))]) {
  const rs = outRuns.filter((r) => r.mode === mode);
  orows.push([
    mode,
    fmt(median(rs.map((r) => r.perSec))),
    rs.map((r) => String(r.handshakes)).join(" "),
    rs.map((r) => String(r.arrived)).join(" "),
    rs.map((r) => fmt(r.load, 2)).join(" "),
  ]);
}
print(table(orows));
await Deno.remove(dir, { recursive: true });
