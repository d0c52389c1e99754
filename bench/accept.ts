/**
 * Accept benchmark (issue 2): Postfix's smtp-source sends N messages over concurrent
 * sessions to the relay, which must commit each to its Deno KV spool before its 250; the same
 * load goes to a private Postfix that puts everything on hold. Prints messages/s, latency at
 * concurrency 1, CPU per message, peak RSS, peak PSS (sampled from /proc/PID/smaps_rollup,
 * summed over Postfix's processes), and the relay/Postfix ratios.
 *
 * Run: deno task bench [--messages 5000] [--size 10K] [--rounds 3] (see --help)
 */
import { startPostfix } from "../tests/helpers/postfix.ts";
import { type BenchFlags, FLAGS_HELP, parseBenchFlags } from "./_flags.ts";
import { report, runRounds, type Target } from "./_measure.ts";
import { print } from "./_out.ts";
import { profileReport } from "./_cpu_profile.ts";
import { cpuMs, peakRss, totalPss, treeCpuMs, treePeakRss, treePss } from "./_proc.ts";
import { countSpool, startRelay } from "./_relay.ts";

const relayTarget = (flags: BenchFlags): Target => ({
  name: "relay",
  async start() {
    // Accept and spool only, as Postfix's hold queue (delivery is bench/relay.ts).
    const relay = await startRelay({
      extraToml: "[queue]\ndeliver = false",
      cpuProfDir: flags.cpuProf || undefined,
    });
    return {
      port: relay.port,
      cpuMs: () => cpuMs(relay.pid),
      peakRss: () => peakRss(relay.pid),
      pss: () => totalPss([relay.pid]),
      settle: (expected, since) =>
        Promise.resolve({ count: expected, ms: performance.now() - since }),
      async stop() {
        await relay.stop();
        const n = await countSpool(relay.spool);
        if (flags.keep) print(`relay dir kept: ${relay.dir}`);
        else await relay.cleanup();
        return n;
      },
    };
  },
});

const postfixTarget = (flags: BenchFlags): Target => ({
  name: "postfix (hold)",
  async start() {
    const pf = await startPostfix({ mode: "hold" });
    return {
      port: pf.port,
      cpuMs: () => treeCpuMs(pf.masterPid),
      peakRss: () => treePeakRss(pf.masterPid),
      pss: () => treePss(pf.masterPid),
      settle: (expected, since) =>
        Promise.resolve({ count: expected, ms: performance.now() - since }),
      async stop() {
        const n = await pf.queueCount("hold");
        await pf.stop({ keep: flags.keep });
        if (flags.keep) print(`postfix dir kept: ${pf.dir}`);
        return n;
      },
    };
  },
});

async function main(): Promise<void> {
  const flags = parseBenchFlags(Deno.args);
  if (!flags) {
    print(`Usage: deno task bench [flags]\n\n${FLAGS_HELP}`);
    return;
  }
  const targets: Target[] = [];
  if (flags.relay) targets.push(relayTarget(flags));
  if (flags.postfix) targets.push(postfixTarget(flags));
  const runs = await runRounds(targets, flags);
  print(
    `accept: ${flags.messages} messages of ${flags.size} bytes over ${flags.sessions} ` +
      `smtp-source sessions (${flags.reuse ? "connection reused" : "one connection per message"})` +
      `, latency over ${flags.latency} sequential transactions; ${flags.rounds} round(s)`,
  );
  print(`args: ${Deno.args.join(" ") || "(defaults)"}; cores: ${navigator.hardwareConcurrency}`);
  print();
  report(runs, { rateLabel: "accepted msg/s" });
  if (flags.cpuProf) print(`\n${await profileReport(flags.cpuProf)}`);
}

if (import.meta.main) await main();
