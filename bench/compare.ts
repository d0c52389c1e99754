/**
 * The comparison users make (issue 20), run by `deno task bench`: the relay and a private
 * Postfix each accept from Postfix's `smtp-source` (one connection per message, its default)
 * and deliver to their own `smtp-sink` at the same time. Prints, per MTA, accepted and
 * delivered msg/s at concurrency 20, ms per message at concurrency 1 (connect to QUIT's reply),
 * peak PSS, CPU per message, whole-machine CPU busy and the load average, as medians of
 * interleaved rounds, with the relay/Postfix ratios. Extra rows: accept only (relay
 * `deliver = false` against Postfix's hold queue) and pipelined transactions on one connection.
 *
 * Run: deno task bench [--messages 2000] [--rounds 3] [--pin] (see --help)
 */
import { parseArgs } from "node:util";
import { smtpSink, smtpSource, startPostfix } from "../tests/helpers/postfix.ts";
import { parseSizeFlag } from "./_flags.ts";
import { fmt, note, percentile, print, table } from "./_out.ts";
import {
  allTreeCpuMs,
  busyShare,
  cpuMs,
  loadAverage,
  machineCpu,
  pssSum,
  treePids,
} from "./_proc.ts";
import { countSpool, startRelay } from "./_relay.ts";
import { ensureExim, startExim } from "./_exim.ts";
import { ensureHaraka, startHaraka } from "./_haraka.ts";
import { sequentialLatencies } from "./_smtp_client.ts";

/** Flags of the comparison. */
export interface CompareFlags {
  /** Messages of the concurrent run. */
  messages: number;
  /** smtp-source sessions of the concurrent run. */
  sessions: number;
  /** Messages sent at concurrency 1 (smtp-source -s 1), one connection each. */
  serial: number;
  /** Pipelined transactions on one open connection (0 skips). */
  latency: number;
  /** Messages sent and delivered first, not measured. */
  warmup: number;
  /** Message size in bytes. */
  size: number;
  /** Interleaved rounds; medians are reported. */
  rounds: number;
  /** Run the relay twice, pinned to CPU 0 and to CPUs 0,1. */
  pin: boolean;
  /** Skip the accept-only rows. */
  skipAccept: boolean;
  /** Add an Exim column (private root, see bench/_exim.ts). */
  exim: boolean;
  /** Add a Haraka column (from npm, see bench/_haraka.ts). */
  haraka: boolean;
  /** Only this MTA (relay or postfix). */
  only?: string;
  /** Keep temp dirs. */
  keep: boolean;
}

const HELP = `Usage: deno task bench [flags]

  --messages N   messages of the concurrent run (default 2000)
  --sessions N   smtp-source sessions of the concurrent run (default 20)
  --serial N     messages at concurrency 1, one connection each (default 300)
  --latency N    pipelined transactions on one open connection (default 300; 0 skips)
  --warmup N     messages sent and delivered first, not measured (default 200)
  --size S       message size: bytes, or 10K, 100K (default 10K)
  --rounds N     interleaved rounds; medians reported (default 3)
  --pin          run the relay pinned to 1 core and to 2 (taskset -c 0 / -c 0,1)
  --exim         add Exim 4 (fetched into a private root; slow: use a small --serial)
  --haraka       add Haraka (npm install into a cache folder; needs node >= 20)
  --skip-accept  skip the accept-only runs (relay deliver = false, Postfix hold)
  --only T       run only relay or postfix
  --keep         keep temp dirs (spools, configs, logs) and print their paths`;

function int(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`Cannot use --${name} ${text}: expected an integer >= ${min}`);
  }
  return n;
}

/** Parses the flags; null when --help was given. */
export function parseCompareFlags(args: string[]): CompareFlags | null {
  const { values: v } = parseArgs({
    args,
    options: {
      messages: { type: "string", default: "2000" },
      sessions: { type: "string", default: "20" },
      serial: { type: "string", default: "300" },
      latency: { type: "string", default: "300" },
      warmup: { type: "string", default: "200" },
      size: { type: "string", default: "10K" },
      rounds: { type: "string", default: "3" },
      pin: { type: "boolean", default: false },
      "skip-accept": { type: "boolean", default: false },
      exim: { type: "boolean", default: false },
      haraka: { type: "boolean", default: false },
      only: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (v.help) return null;
  if (v.only && v.only !== "relay" && v.only !== "postfix") {
    throw new Error(`Cannot use --only ${v.only}: expected relay or postfix`);
  }
  return {
    messages: int("messages", v.messages, 1),
    sessions: int("sessions", v.sessions, 1),
    serial: int("serial", v.serial, 1),
    latency: int("latency", v.latency, 0),
    warmup: int("warmup", v.warmup, 0),
    size: parseSizeFlag(v.size),
    rounds: int("rounds", v.rounds, 1),
    pin: v.pin,
    skipAccept: v["skip-accept"],
    exim: v.exim,
    haraka: v.haraka,
    only: v.only,
    keep: v.keep,
  };
}

/** What a run measures: accepting and delivering, or accepting only. */
type Mode = "deliver" | "accept";

/** A started MTA (and its sink). */
interface Sut {
  port: number;
  /** Processes whose PSS counts (the relay; Postfix's master and its daemons). */
  pids(): Promise<number[]>;
  /** CPU ms of the MTA so far (for Postfix including its exited, reaped daemons). */
  cpuMs(): Promise<number | undefined>;
  /** Messages at the end point so far (sink; undefined for accept-only). */
  arrived(): number | undefined;
  /** Stops everything; returns the messages held at the end point (sink, spool, hold queue). */
  stop(): Promise<number>;
}

/** A column of the table. */
interface Mta {
  name: string;
  /** The MTA this column is compared with (ratios are against Postfix). */
  kind: "relay" | "postfix" | "other";
  /** No accept-only setup (no hold queue equivalent): skipped in that mode. */
  deliverOnly?: boolean;
  start(mode: Mode): Promise<Sut>;
}

function relayMta(flags: CompareFlags, name: string, cpus?: string): Mta {
  return {
    name,
    kind: "relay",
    async start(mode) {
      const sink = mode === "deliver" ? await smtpSink() : undefined;
      const extraToml = sink
        ? `[[route]]\ndomains = "*"\ntransport = "sink"\n\n[transport.sink]\ndriver = "smtp"\n` +
          `hosts = ["127.0.0.1:${sink.port}"]\ntls = "off"\n`
        : "[queue]\ndeliver = false\n";
      const relay = await startRelay({ extraToml, cpus }).catch(async (e) => {
        await sink?.stop();
        throw e;
      });
      return {
        port: relay.port,
        pids: () => Promise.resolve([relay.pid]),
        cpuMs: () => cpuMs(relay.pid),
        arrived: () => sink?.count(),
        async stop() {
          await relay.stop();
          let n: number;
          if (sink) {
            n = sink.count();
            await sink.stop();
          } else n = await countSpool(relay.spool);
          if (flags.keep) print(`relay dir kept: ${relay.dir}`);
          else await relay.cleanup();
          return n;
        },
      };
    },
  };
}

function postfixMta(flags: CompareFlags): Mta {
  return {
    name: "Postfix",
    kind: "postfix",
    async start(mode) {
      const sink = mode === "deliver" ? await smtpSink() : undefined;
      const pf = await startPostfix(
        sink ? { mode: "relay", relayTo: `127.0.0.1:${sink.port}` } : { mode: "hold" },
      ).catch(async (e) => {
        await sink?.stop();
        throw e;
      });
      return {
        port: pf.port,
        pids: () => treePids(pf.masterPid),
        cpuMs: () => allTreeCpuMs(pf.masterPid),
        arrived: () => sink?.count(),
        async stop() {
          const held = sink ? 0 : await pf.queueCount("hold");
          await pf.stop({ keep: flags.keep });
          if (flags.keep) print(`postfix dir kept: ${pf.dir}`);
          if (!sink) return held;
          const n = sink.count();
          await sink.stop();
          return n;
        },
      };
    },
  };
}

function eximMta(flags: CompareFlags, version: string): Mta {
  return {
    name: version,
    kind: "other",
    async start(mode) {
      const sink = mode === "deliver" ? await smtpSink() : undefined;
      const ex = await startExim({ sinkPort: sink?.port }).catch(async (e) => {
        await sink?.stop();
        throw e;
      });
      return {
        port: ex.port,
        pids: () => treePids(ex.pid),
        // Delivery processes Exim detaches are reaped by init: a lower bound.
        cpuMs: () => allTreeCpuMs(ex.pid),
        arrived: () => sink?.count(),
        async stop() {
          const held = sink ? 0 : await ex.queueCount();
          await ex.stop({ keep: flags.keep });
          if (flags.keep) print(`exim dir kept: ${ex.dir}`);
          if (!sink) return held;
          const n = sink.count();
          await sink.stop();
          return n;
        },
      };
    },
  };
}

function harakaMta(flags: CompareFlags, version: string): Mta {
  return {
    name: version,
    kind: "other",
    deliverOnly: true,
    async start() {
      const sink = await smtpSink();
      const h = await startHaraka({ sinkPort: sink.port }).catch(async (e) => {
        await sink.stop();
        throw e;
      });
      return {
        port: h.port,
        pids: () => treePids(h.pid),
        cpuMs: () => allTreeCpuMs(h.pid),
        arrived: () => sink.count(),
        async stop() {
          await h.stop({ keep: flags.keep });
          if (flags.keep) print(`haraka dir kept: ${h.dir}`);
          const n = sink.count();
          await sink.stop();
          return n;
        },
      };
    },
  };
}

/** One run's figures (undefined: not measured in this mode). */
interface Run {
  mta: string;
  mode: Mode;
  load: number;
  accepted: number;
  delivered?: number;
  serialMs?: number;
  pipelinedP50?: number;
  pipelinedP99?: number;
  pssMb?: number;
  cpuPerMsg?: number;
  /** CPU time of the MTA over the concurrency-20 window divided by its wall time. */
  cores?: number;
  busy?: number;
  held: number;
  sent: number;
}

/** Samples the summed PSS of the SUT every 200 ms until stopped; returns the peak. */
function pssSampler(sut: Sut): { stop(): Promise<number | undefined> } {
  let peak: number | undefined;
  let done = false;
  const loop = (async () => {
    while (!done) {
      const p = await pssSum(await sut.pids());
      if (p !== undefined) peak = Math.max(peak ?? 0, p);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
      const p = await pssSum(await sut.pids());
      return p === undefined ? peak : Math.max(peak ?? 0, p);
    },
  };
}

async function waitArrived(sut: Sut, expected: number, limitMs: number): Promise<void> {
  const end = performance.now() + limitMs;
  while ((sut.arrived() ?? expected) < expected && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One round of one MTA in one mode. */
async function measure(mta: Mta, mode: Mode, flags: CompareFlags): Promise<Run> {
  const load = loadAverage();
  note(`${mta.name} (${mode}): starting, load ${load.toFixed(2)}`);
  const sut = await mta.start(mode);
  const limit = 30_000 + flags.messages * 20;
  let stopped = false;
  let pss: { stop(): Promise<number | undefined> } | undefined;
  try {
    const send = async (messages: number, sessions: number) => {
      // A stalled MTA would keep smtp-source waiting forever; stopping the MTA ends it.
      const limitMs = 30_000 + (300 * messages) / sessions;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        smtpSource({ port: sut.port, messages, sessions, size: flags.size }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Cannot load ${mta.name}: no end after ${limitMs} ms`)),
            limitMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (!r.success || r.stderr.trim()) {
        throw new Error(`Cannot load ${mta.name}: smtp-source said ${r.stderr.trim()}`);
      }
      return r.ms;
    };
    let sent = 0;
    if (flags.warmup > 0) {
      await send(flags.warmup, flags.sessions);
      sent += flags.warmup;
      await waitArrived(sut, sent, limit);
    }
    pss = pssSampler(sut);
    const cpu0 = await sut.cpuMs();
    const m0 = await machineCpu();
    const t0 = performance.now();
    await send(flags.messages, flags.sessions);
    const acceptMs = performance.now() - t0;
    sent += flags.messages;
    await waitArrived(sut, sent, limit);
    const deliverMs = performance.now() - t0;
    const m1 = await machineCpu();
    const cpu1 = await sut.cpuMs();
    const delivered = sut.arrived();
    let serialMs: number | undefined;
    if (mode === "deliver") {
      // smtp-source -s 1: each message its own connection, timed from connect to QUIT's reply.
      const t1 = performance.now();
      await send(flags.serial, 1);
      serialMs = (performance.now() - t1) / flags.serial;
      sent += flags.serial;
      await waitArrived(sut, sent, limit);
    }
    let lat: number[] = [];
    if (flags.latency > 0) {
      lat = await sequentialLatencies(sut.port, { count: flags.latency, size: flags.size });
      sent += flags.latency;
      await waitArrived(sut, sent, limit);
    }
    const peak = await pss.stop();
    pss = undefined;
    stopped = true;
    const held = await sut.stop();
    const base = flags.warmup;
    return {
      mta: mta.name,
      mode,
      load,
      accepted: flags.messages / acceptMs * 1000,
      delivered: delivered === undefined
        ? undefined
        : (Math.min(delivered, base + flags.messages) - base) / deliverMs * 1000,
      serialMs,
      pipelinedP50: lat.length ? percentile(lat, 50) : undefined,
      pipelinedP99: lat.length ? percentile(lat, 99) : undefined,
      pssMb: peak === undefined ? undefined : peak / 2 ** 20,
      cpuPerMsg: cpu0 !== undefined && cpu1 !== undefined
        ? (cpu1 - cpu0) / flags.messages
        : undefined,
      cores: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / deliverMs : undefined,
      busy: busyShare(m0, m1),
      held,
      sent,
    };
  } finally {
    await pss?.stop();
    if (!stopped) await sut.stop().catch(() => 0);
  }
}

function median(xs: (number | undefined)[]): number | undefined {
  const s = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) =>
    a - b
  );
  if (!s.length) return undefined;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A row of the summary: label, how to read a run, decimals, unit suffix, ratio wanted. */
interface RowSpec {
  label: string;
  mode: Mode;
  get: (r: Run) => number | undefined;
  decimals: number;
  suffix?: string;
  ratio: boolean;
}

function rowSpecs(flags: CompareFlags): RowSpec[] {
  const c = flags.sessions;
  const n = flags.messages;
  const rows: RowSpec[] = [
    {
      label: `accepted msg/s, ${n} at concurrency ${c}`,
      mode: "deliver",
      get: (r) => r.accepted,
      decimals: 0,
      ratio: true,
    },
    {
      label: `delivered msg/s (to the sink), same run`,
      mode: "deliver",
      get: (r) => r.delivered,
      decimals: 0,
      ratio: true,
    },
    {
      label: `ms per message at concurrency 1 (smtp-source -s 1, connect to QUIT reply)`,
      mode: "deliver",
      get: (r) => r.serialMs,
      decimals: 2,
      ratio: true,
    },
    {
      label: `peak PSS MiB (summed over the MTA's processes)`,
      mode: "deliver",
      get: (r) => r.pssMb,
      decimals: 0,
      ratio: true,
    },
    {
      label: `CPU ms per message (utime+stime), concurrency ${c}`,
      mode: "deliver",
      get: (r) => r.cpuPerMsg,
      decimals: 2,
      ratio: true,
    },
    {
      label: `cores the MTA used at concurrency ${c} (its CPU time / wall time)`,
      mode: "deliver",
      get: (r) => r.cores,
      decimals: 2,
      ratio: true,
    },
    {
      label: `whole-machine CPU busy at concurrency ${c}`,
      mode: "deliver",
      get: (r) => r.busy === undefined ? undefined : r.busy * 100,
      decimals: 0,
      suffix: "%",
      ratio: false,
    },
    {
      label: `load average (1 min) at start`,
      mode: "deliver",
      get: (r) => r.load,
      decimals: 2,
      ratio: false,
    },
  ];
  if (flags.latency > 0) {
    rows.push({
      label: `extra: pipelined p50 ms (MAIL..250 on an open connection, delivering)`,
      mode: "deliver",
      get: (r) => r.pipelinedP50,
      decimals: 2,
      ratio: true,
    });
  }
  if (!flags.skipAccept) {
    rows.push(
      {
        label: `extra: accept only msg/s (relay deliver=false, Postfix hold), c ${c}`,
        mode: "accept",
        get: (r) => r.accepted,
        decimals: 0,
        ratio: true,
      },
      {
        label: `extra: accept only CPU ms per message`,
        mode: "accept",
        get: (r) => r.cpuPerMsg,
        decimals: 2,
        ratio: true,
      },
    );
    if (flags.latency > 0) {
      rows.push({
        label: `extra: accept only pipelined p50 / p99 ms`,
        mode: "accept",
        get: (r) => r.pipelinedP50,
        decimals: 2,
        ratio: true,
      });
    }
  }
  return rows;
}

function summary(mtas: Mta[], runs: Run[], flags: CompareFlags): string {
  const postfix = mtas.find((m) => m.kind === "postfix");
  const relays = mtas.filter((m) => m.kind === "relay");
  const head = ["", ...mtas.map((m) => m.name)];
  if (postfix) head.push(...relays.map((r) => `${r.name} / Postfix`));
  if (relays.length === 2) head.push(`${relays[1].name} / ${relays[0].name}`);
  const rows: string[][] = [head];
  for (const spec of rowSpecs(flags)) {
    const med = new Map<string, number | undefined>();
    for (const m of mtas) {
      med.set(
        m.name,
        median(runs.filter((r) => r.mta === m.name && r.mode === spec.mode).map(spec.get)),
      );
    }
    const cell = (m: Mta) => {
      let s = fmt(med.get(m.name), spec.decimals);
      if (s !== "-" && spec.suffix) s += spec.suffix;
      if (spec.label.includes("p50 / p99")) {
        const p99 = median(
          runs.filter((r) => r.mta === m.name && r.mode === "accept").map((r) => r.pipelinedP99),
        );
        s += ` / ${fmt(p99, 2)}`;
      }
      return s;
    };
    const ratio = (a?: number, b?: number) =>
      spec.ratio && a !== undefined && b ? `${fmt(a / b, 2)}x` : "";
    const row = [spec.label, ...mtas.map(cell)];
    if (postfix) row.push(...relays.map((r) => ratio(med.get(r.name), med.get(postfix.name))));
    if (relays.length === 2) row.push(ratio(med.get(relays[1].name), med.get(relays[0].name)));
    rows.push(row);
  }
  return table(rows);
}

function runsTable(runs: Run[]): string {
  const rows = [[
    "run",
    "accepted/s",
    "delivered/s",
    "c1 ms/msg",
    "pipelined p50",
    "PSS MiB",
    "CPU ms/msg",
    "cores",
    "busy",
    "held/sent",
    "load1",
  ]];
  for (const r of runs) {
    rows.push([
      `${r.mta} (${r.mode})`,
      fmt(r.accepted),
      fmt(r.delivered),
      fmt(r.serialMs, 2),
      fmt(r.pipelinedP50, 2),
      fmt(r.pssMb),
      fmt(r.cpuPerMsg, 2),
      fmt(r.cores, 2),
      r.busy === undefined ? "-" : `${fmt(r.busy * 100)}%`,
      `${r.held}/${r.sent}`,
      fmt(r.load, 2),
    ]);
  }
  return table(rows);
}

async function main(): Promise<void> {
  const flags = parseCompareFlags(Deno.args);
  if (!flags) {
    print(HELP);
    return;
  }
  const mtas: Mta[] = [];
  if (flags.only !== "relay") mtas.push(postfixMta(flags));
  if (flags.only !== "postfix") {
    if (flags.pin) {
      mtas.push(relayMta(flags, "relay 1 core", "0"), relayMta(flags, "relay 2 cores", "0,1"));
    } else mtas.push(relayMta(flags, "relay"));
  }
  const unavailable: string[] = [];
  if (flags.exim) {
    try {
      mtas.splice(1, 0, eximMta(flags, await ensureExim()));
    } catch (e) {
      unavailable.push(`Exim: not available: ${(e as Error).message}`);
    }
  }
  if (flags.haraka) {
    try {
      mtas.splice(1, 0, harakaMta(flags, await ensureHaraka()));
    } catch (e) {
      unavailable.push(`Haraka: not available: ${(e as Error).message}`);
    }
  }
  const modes: Mode[] = flags.skipAccept ? ["deliver"] : ["deliver", "accept"];
  const runs: Run[] = [];
  // Interleaved: each round runs every MTA once per mode, so a change in the machine's load
  // hits all columns alike.
  for (let round = 0; round < flags.rounds; round++) {
    for (const mode of modes) {
      for (const m of [...mtas]) {
        if (mode === "accept" && m.deliverOnly) continue;
        try {
          runs.push(await measure(m, mode, flags));
        } catch (e) {
          // Postfix and the relay must run; an optional column that fails is dropped.
          if (m.kind !== "other") throw e;
          unavailable.push(`${m.name}: not available: ${(e as Error).message}`);
          mtas.splice(mtas.indexOf(m), 1);
        }
      }
    }
  }
  print(
    `compare: smtp-source -> MTA -> its own smtp-sink, one connection per message, ` +
      `${flags.size}-byte messages; ${flags.messages} at concurrency ${flags.sessions} after ` +
      `${flags.warmup} warm-up, ${flags.serial} at concurrency 1; medians of ${flags.rounds} ` +
      `interleaved round(s)`,
  );
  print(`args: ${Deno.args.join(" ") || "(defaults)"}; cores: ${navigator.hardwareConcurrency}`);
  print();
  print(summary(mtas, runs, flags));
  for (const u of unavailable) print(u);
  print();
  print(runsTable(runs));
  for (const r of runs.filter((r) => r.held !== r.sent)) {
    print(`WARNING: ${r.mta} (${r.mode}) holds ${r.held} messages, ${r.sent} were sent`);
  }
}

if (import.meta.main) await main();
