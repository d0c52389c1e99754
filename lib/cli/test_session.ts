import { Logger } from "../log/mod.ts";
import { CidrList, isIP, normalizeIP } from "../net/mod.ts";
import { formatDecision } from "../policy/mod.ts";
import { runTestSession, senderAuthFor } from "../server/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFrom, openSpool, out } from "./context.ts";
import { buildPolicy, resolverFor } from "../relay/mod.ts";

/** Usage of `relay test-session`. */
export const TEST_SESSION_HELP =
  `Usage: relay test-session --from-ip IP [--port N] [--hostname NAME] [--config FILE]

Reads SMTP commands from standard input and runs them through the real session and ACL
code as if they came from IP (Exim's -bh). Prints each command (>>>), each reply, every
ACL rule's result and why (the values it read, the lookups it made), and log lines (LOG:).
Nothing is queued or delivered; lookups are real (ratelimit() counters do count).

Example:
  printf 'EHLO test\\nMAIL FROM:<a@example.com>\\nRCPT TO:<b@example.org>\\nQUIT\\n' |
    relay test-session --from-ip 192.0.2.1 --config relay.toml`;

/** `relay test-session`. */
export async function testSessionCommand(args: string[]): Promise<number> {
  const { values, help } = parseCommandArgs(args, {
    config: { type: "string", short: "c" },
    "from-ip": { type: "string" },
    port: { type: "string" },
    hostname: { type: "string" },
  }, { min: 0, max: 0 });
  if (help) {
    out(TEST_SESSION_HELP);
    return 0;
  }
  const ip = values["from-ip"];
  if (typeof ip !== "string" || !isIP(ip)) throw new UsageError("--from-ip IP is required");
  const port = Number(values.port ?? 33333);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("bad --port");
  const config = await configFrom(values.config);
  const log = new Logger({ format: "text", level: "debug", file: "/dev/null" });
  log.listeners.push((line) => out(`LOG: ${line}`));
  const spool = await openSpool(config);
  const file = typeof values.config === "string" ? values.config : undefined;
  // One resolver (one DNS cache) for the rules and the sender checks, as in serve.
  const resolver = resolverFor(config);
  const policy = await buildPolicy(config, spool, resolver, file).catch((e) => {
    spool.close();
    throw e;
  });
  try {
    await runTestSession({
      config,
      spool,
      log,
      policy,
      ip: normalizeIP(ip),
      senderAuth: await senderAuthFor(config, resolver),
      trusted: new CidrList(config.server.trusted_networks).contains(ip),
      port,
      hostname: typeof values.hostname === "string" ? values.hostname : undefined,
      input: await new Response(Deno.stdin.readable).text(),
      print: out,
      trace: (stage, d) => {
        for (const line of formatDecision(stage, d)) out(`ACL ${line}`);
      },
    });
  } finally {
    await policy.close();
    spool.close();
    log.close();
  }
  return 0;
}
