import { loadConfig } from "../config/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { out } from "./context.ts";
import { buildPolicy, buildRunner, daneSelfTest, resolverFor } from "../relay/mod.ts";
import { Spool } from "../spool/mod.ts";

/** Usage of `relay check-config`. */
export const CHECK_CONFIG_HELP = `Usage: relay check-config --config FILE [--print]

Parses and validates the configuration file, opens its lookup tables, compiles its ACLs
and builds its routes. When a transport uses DANE, checks that the resolver validates
DNSSEC ([dns] dnssec_probe) and warns when it does not. Prints "FILE: OK" and exits 0,
or the first error with file, line and key, and exits 1. --print shows the effective configuration
(defaults filled in, durations in ms, sizes in bytes) as JSON.`;

/** `relay check-config`. */
export async function checkConfigCommand(args: string[]): Promise<number> {
  const { values, help } = parseCommandArgs(args, {
    config: { type: "string", short: "c" },
    print: { type: "boolean" },
  }, { min: 0, max: 0 });
  if (help) {
    out(CHECK_CONFIG_HELP);
    return 0;
  }
  if (typeof values.config !== "string") throw new UsageError("--config FILE is required");
  const config = await loadConfig(values.config);
  // Tables and ACLs need a KV; an in-memory one keeps the real spool untouched.
  const spool = await Spool.open(":memory:");
  try {
    const resolver = resolverFor(config);
    const policy = await buildPolicy(config, spool, resolver, values.config);
    await (await buildRunner(config, spool, { policy, file: values.config, resolver })).stop();
    await policy.close();
    const warning = await daneSelfTest(config, resolver);
    if (warning) Deno.stderr.writeSync(new TextEncoder().encode(`warning: ${warning}\n`));
  } finally {
    spool.close();
  }
  if (values.print) out(JSON.stringify(config, null, 2));
  out(`${values.config}: OK`);
  return 0;
}
