/** The measuring loop shared by the benchmarks: warm up, load with smtp-source, time latency. */
import { smtpSource } from "../tests/helpers/postfix.ts";
import type { BenchFlags } from "./_flags.ts";
import { fmt, note, percentile, print, table } from "./_out.ts";
import { loadAverage, peakSampler } from "./_proc.ts";
import { sequentialLatencies } from "./_smtp_client.ts";

/** A started system under test. */
export interface Running {
  /** SMTP port on 127.0.0.1. */
  port: number;
  /** CPU milliseconds used so far by the whole system under test. */
  cpuMs(): Promise<number | undefined>;
  /** Peak resident memory in bytes so far. */
  peakRss(): Promise<number | undefined>;
  /** Proportional set size now, in bytes (over all its processes); sampled for the peak. */
  pss?(): Promise<number | undefined>;
  /**
   * Waits until `expected` messages reached their end point (spool, hold queue, sink) or
   * the timeout passes; returns how many did and the milliseconds since `since`.
   */
  settle(expected: number, since: number): Promise<{ count: number; ms: number }>;
  /** Extra per-run figure (mean time in queue ...), already formatted. */
  extra?(): Promise<string>;
  /** Stops it, cleans up, and returns how many messages it holds (spool, queue or sink). */
  stop(): Promise<number>;
}

/** A system under test. */
export interface Target {
  /** Name in the table. */
  name: string;
  /** Starts a fresh instance. */
  start(): Promise<Running>;
}

/** One run's figures. */
export interface Figures {
  name: string;
  /** Messages per second through the measured path. */
  rate: number;
  /** Wall milliseconds of the throughput run. */
  ms: number;
  p50?: number;
  p99?: number;
  cpuPerMsg?: number;
  rssMb?: number;
  /** Peak PSS (sampled every 500 ms), MiB. */
  pssMb?: number;
  stored: number;
  expected: number;
  load: number;
  extra?: string;
}

/**
 * Runs one round against a target: warm-up, then `flags.messages` over `flags.sessions`
 * (timed until `settle` says they all arrived), then the sequential latency run.
 */
export async function measure(target: Target, flags: BenchFlags): Promise<Figures> {
  const load = loadAverage();
  note(`${target.name}: starting (load ${load.toFixed(2)})`);
  const sut = await target.start();
  const pss = sut.pss ? peakSampler(() => sut.pss!()) : undefined;
  let stopped = false;
  try {
    const send = async (messages: number) => {
      const r = await smtpSource({
        port: sut.port,
        messages,
        sessions: flags.sessions,
        size: flags.size,
        reuseConnection: flags.reuse,
      });
      if (!r.success || r.stderr.trim()) {
        throw new Error(`Cannot load ${target.name}: smtp-source said ${r.stderr.trim()}`);
      }
    };
    let expected = 0;
    if (flags.warmup > 0) {
      await send(flags.warmup);
      expected += flags.warmup;
      await sut.settle(expected, performance.now());
    }
    note(`${target.name}: ${flags.messages} messages over ${flags.sessions} sessions`);
    const cpu0 = await sut.cpuMs();
    const t0 = performance.now();
    await send(flags.messages);
    expected += flags.messages;
    const { count, ms } = await sut.settle(expected, t0);
    const cpu1 = await sut.cpuMs();
    const measured = count - (expected - flags.messages);
    let lat: number[] = [];
    if (flags.latency > 0) {
      note(`${target.name}: ${flags.latency} sequential transactions`);
      lat = await sequentialLatencies(sut.port, { count: flags.latency, size: flags.size });
      expected += flags.latency;
    }
    if (flags.latency > 0) await sut.settle(expected, performance.now());
    const extra = sut.extra ? await sut.extra() : undefined;
    const rssMb = ((await sut.peakRss()) ?? NaN) / 2 ** 20;
    await pss?.stop();
    const pssMb = (pss?.peak() ?? NaN) / 2 ** 20;
    stopped = true;
    const stored = await sut.stop();
    return {
      name: target.name,
      rate: (measured / ms) * 1000,
      ms,
      p50: lat.length ? percentile(lat, 50) : undefined,
      p99: lat.length ? percentile(lat, 99) : undefined,
      cpuPerMsg: cpu0 !== undefined && cpu1 !== undefined
        ? (cpu1 - cpu0) / flags.messages
        : undefined,
      rssMb,
      pssMb,
      stored,
      expected,
      load,
      extra,
    };
  } finally {
    await pss?.stop();
    if (!stopped) await sut.stop().catch(() => 0);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Runs the targets for `flags.rounds` alternating rounds; returns each target's runs. */
export async function runRounds(targets: Target[], flags: BenchFlags): Promise<Figures[][]> {
  const runs: Figures[][] = targets.map(() => []);
  for (let round = 0; round < flags.rounds; round++) {
    for (const [i, t] of targets.entries()) runs[i].push(await measure(t, flags));
  }
  return runs;
}

/** Prints the result table (medians over rounds) and the relay/Postfix ratios. */
export function report(
  runs: Figures[][],
  opts: { rateLabel: string; extraLabel?: string },
): void {
  const rows: string[][] = [[
    "target",
    opts.rateLabel,
    "p50 ms",
    "p99 ms",
    "CPU ms/msg",
    "peak RSS MB",
    "peak PSS MiB",
    "arrived/sent",
    ...(opts.extraLabel ? [opts.extraLabel] : []),
    "load1 before",
  ]];
  const med: { name: string; rate: number; p50?: number; p99?: number; pss?: number }[] = [];
  for (const rs of runs) {
    for (const f of rs) {
      rows.push([
        rs.length > 1 ? `${f.name} #${rs.indexOf(f) + 1}` : f.name,
        fmt(f.rate),
        fmt(f.p50, 2),
        fmt(f.p99, 2),
        fmt(f.cpuPerMsg, 2),
        fmt(f.rssMb),
        fmt(f.pssMb),
        `${f.stored}/${f.expected}`,
        ...(opts.extraLabel ? [f.extra ?? "-"] : []),
        fmt(f.load, 2),
      ]);
    }
    const m = {
      name: rs[0].name,
      rate: median(rs.map((f) => f.rate)),
      p50: rs[0].p50 === undefined ? undefined : median(rs.map((f) => f.p50!)),
      p99: rs[0].p99 === undefined ? undefined : median(rs.map((f) => f.p99!)),
      pss: Math.max(...rs.map((f) => f.pssMb ?? NaN)),
    };
    if (rs.length > 1) rows.push([`${m.name} median`, fmt(m.rate), fmt(m.p50, 2), fmt(m.p99, 2)]);
    med.push(m);
  }
  print(table(rows));
  const relay = med.find((m) => m.name === "relay");
  const postfix = med.find((m) => m.name.startsWith("postfix"));
  if (relay && postfix) {
    print();
    print(
      `ratio relay/postfix: ${opts.rateLabel} ${fmt(relay.rate / postfix.rate, 2)}x` +
        (relay.p50 && postfix.p50 ? `, p50 latency ${fmt(relay.p50 / postfix.p50, 2)}x` : ""),
    );
    if (relay.pss && postfix.pss) {
      print(
        `peak PSS: relay ${fmt(relay.pss)} MiB, postfix ${fmt(postfix.pss)} MiB ` +
          `(summed over its processes), ratio ${fmt(relay.pss / postfix.pss, 2)}x`,
      );
    }
  }
  const short = runs.flat().filter((f) => f.stored !== f.expected);
  for (const f of short) {
    print(`WARNING: ${f.name} holds ${f.stored} messages, ${f.expected} were sent`);
  }
}
