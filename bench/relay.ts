/**
 * End-to-end relay benchmark (issue 3): smtp-source -> relay -> smtp-sink, and the same load
 * through a private Postfix relaying to its own smtp-sink. Prints messages/s from the first
 * message sent to the last one received by the sink, mean time in queue (from each MTA's
 * own log), CPU per message, peak RSS, and the relay/Postfix ratio.
 *
 * Run: deno run --unstable-kv -A bench/relay.ts [--messages 5000] [--size 10K] (see --help)
 */
import { smtpSink, startPostfix } from "../tests/helpers/postfix.ts";
import { type BenchFlags, FLAGS_HELP, parseBenchFlags } from "./_flags.ts";
import { report, type Running, runRounds, type Target } from "./_measure.ts";
import { fmt, print } from "./_out.ts";
import { profileReport } from "./_cpu_profile.ts";
import { cpuMs, peakRss, treeCpuMs, treePeakRss } from "./_proc.ts";
import { postfixQueueTime, relayQueueTime } from "./_queue_time.ts";
import { startRelay } from "./_relay.ts";

/** Waits until the sink has `expected` messages, giving up after a time scaled to the load. */
async function settleAt(count: () => number, expected: number, since: number, limitMs: number) {
  const end = performance.now() + limitMs;
  while (count() < expected && performance.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return { count: count(), ms: performance.now() - since };
}

function limitFor(flags: BenchFlags): number {
  return 30_000 + flags.messages * 20;
}

function queueTimeText(q: { meanMs?: number; n: number }): string {
  return q.meanMs === undefined ? "-" : `${fmt(q.meanMs, 1)} (n=${q.n})`;
}

const relayTarget = (flags: BenchFlags): Target => ({
  name: "relay",
  async start(): Promise<Running> {
    const sink = await smtpSink();
    const relay = await startRelay({
      logFormat: "json",
      cpuProfDir: flags.cpuProf || undefined,
      extraToml: `[[route]]
domains = "*"
transport = "sink"

[transport.sink]
driver = "smtp"
hosts = ["127.0.0.1:${sink.port}"]
tls = "off"
`,
    }).catch(async (e) => {
      await sink.stop();
      throw e;
    });
    return {
      port: relay.port,
      cpuMs: () => cpuMs(relay.pid),
      peakRss: () => peakRss(relay.pid),
      settle: (expected, since) => settleAt(sink.count, expected, since, limitFor(flags)),
      async extra() {
        return queueTimeText(relayQueueTime(await Deno.readTextFile(`${relay.dir}/relay.log`)));
      },
      async stop() {
        await relay.stop();
        const n = sink.count();
        await sink.stop();
        if (flags.keep) print(`relay dir kept: ${relay.dir}`);
        else await relay.cleanup();
        return n;
      },
    };
  },
});

const postfixTarget = (flags: BenchFlags): Target => ({
  name: "postfix (relay)",
  async start(): Promise<Running> {
    const sink = await smtpSink();
    const pf = await startPostfix({ mode: "relay", relayTo: `127.0.0.1:${sink.port}` }).catch(
      async (e) => {
        await sink.stop();
        throw e;
      },
    );
    return {
      port: pf.port,
      cpuMs: () => treeCpuMs(pf.masterPid),
      peakRss: () => treePeakRss(pf.masterPid),
      settle: (expected, since) => settleAt(sink.count, expected, since, limitFor(flags)),
      async extra() {
        return queueTimeText(postfixQueueTime(await pf.log()));
      },
      async stop() {
        await pf.stop({ keep: flags.keep });
        const n = sink.count();
        await sink.stop();
        if (flags.keep) print(`postfix dir kept: ${pf.dir}`);
        return n;
      },
    };
  },
});

async function main(): Promise<void> {
  const flags = parseBenchFlags(Deno.args);
  if (!flags) {
    print(`Usage: deno run --unstable-kv -A bench/relay.ts [flags]\n\n${FLAGS_HELP}`);
    return;
  }
  const targets: Target[] = [];
  if (flags.relay) targets.push(relayTarget(flags));
  if (flags.postfix) targets.push(postfixTarget(flags));
  const runs = await runRounds(targets, flags);
  print(
    `relay: ${flags.messages} messages of ${flags.size} bytes, smtp-source (${flags.sessions} ` +
      `sessions) -> MTA -> smtp-sink; rate from first send to last arrival at the sink; ` +
      `${flags.rounds} round(s)`,
  );
  print(`args: ${Deno.args.join(" ") || "(defaults)"}; cores: ${navigator.hardwareConcurrency}`);
  print();
  report(runs, { rateLabel: "delivered msg/s", extraLabel: "mean queue ms" });
  if (flags.cpuProf) print(`\n${await profileReport(flags.cpuProf)}`);
}

if (import.meta.main) await main();
