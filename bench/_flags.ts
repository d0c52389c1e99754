/** Command-line flags shared by the benchmarks. */
import { parseArgs } from "node:util";

/** Flags common to bench/accept.ts and bench/relay.ts. */
export interface BenchFlags {
  /** Messages per throughput run. */
  messages: number;
  /** Concurrent smtp-source sessions. */
  sessions: number;
  /** Message size in bytes. */
  size: number;
  /** Sequential transactions timed for latency (0 skips). */
  latency: number;
  /** Messages sent before measuring, to warm up the JIT and caches. */
  warmup: number;
  /** Alternating rounds per target; the median is reported. */
  rounds: number;
  /** One connection per smtp-source session instead of one per message. */
  reuse: boolean;
  /** Targets to run. */
  relay: boolean;
  /** Whether to run the Postfix comparison. */
  postfix: boolean;
  /** Keep temp dirs (spool, logs) for inspection. */
  keep: boolean;
  /** Folder for the relay's V8 CPU profiles (`deno run --cpu-prof`); empty: no profiling. */
  cpuProf: string;
}

/** Parses `10240`, `10K`, `100k`, `1M` (K = 1024 bytes). */
export function parseSizeFlag(text: string): number {
  const m = /^(\d+)([kKmM]?)[bB]?$/.exec(text.trim());
  if (!m) throw new Error(`Cannot parse size ${text}: expected bytes or a number with K or M`);
  const unit = m[2].toLowerCase() === "k" ? 1024 : m[2].toLowerCase() === "m" ? 1024 ** 2 : 1;
  return Number(m[1]) * unit;
}

function positiveInt(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`Cannot use --${name} ${text}: expected an integer >= ${min}`);
  }
  return n;
}

/** Usage text for the flags. */
export const FLAGS_HELP = `  --messages N   messages per throughput run (default 5000)
  --sessions N   concurrent smtp-source sessions (default 20)
  --size S       message size: bytes, or 10K, 100K (default 10K)
  --latency N    sequential transactions timed at concurrency 1 (default 300; 0 skips)
  --warmup N     messages sent first and not measured (default 200)
  --rounds N     rounds per target, alternating targets; medians reported (default 1)
  --reuse        send all of a session's messages over one connection (smtp-source -d)
  --only T       run only one target: relay or postfix
  --keep         keep temp dirs (spools, configs, logs) and print their paths
  --cpu-prof DIR run the relay with --cpu-prof into DIR and print where its time went`;

/** Parses the flags; returns null when --help was given. */
export function parseBenchFlags(args: string[]): BenchFlags | null {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: "string", default: "5000" },
      sessions: { type: "string", default: "20" },
      size: { type: "string", default: "10K" },
      latency: { type: "string", default: "300" },
      warmup: { type: "string", default: "200" },
      rounds: { type: "string", default: "1" },
      reuse: { type: "boolean", default: false },
      only: { type: "string" },
      keep: { type: "boolean", default: false },
      "cpu-prof": { type: "string", default: "" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  if (values.only && values.only !== "relay" && values.only !== "postfix") {
    throw new Error(`Cannot use --only ${values.only}: expected relay or postfix`);
  }
  return {
    messages: positiveInt("messages", values.messages),
    sessions: positiveInt("sessions", values.sessions),
    size: parseSizeFlag(values.size),
    latency: positiveInt("latency", values.latency, 0),
    warmup: positiveInt("warmup", values.warmup, 0),
    rounds: positiveInt("rounds", values.rounds),
    reuse: values.reuse,
    relay: values.only !== "postfix",
    postfix: values.only !== "relay",
    keep: values.keep,
    cpuProf: values["cpu-prof"],
  };
}
