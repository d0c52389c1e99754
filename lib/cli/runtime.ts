import type { Config } from "../config/mod.ts";
import { Resolver } from "../dns/mod.ts";
import type { Policy } from "../policy/mod.ts";
import type { QueueLog, QueueRunner } from "../queue/mod.ts";
import { buildPolicy, buildRunner } from "../relay/mod.ts";
import type { Spool } from "../spool/mod.ts";

/** Opens lookups and ACLs for a one-shot command (errors name the file, line and key). */
export function openPolicyFor(
  config: Config,
  spool: Spool,
  file?: string,
  resolver: Resolver = new Resolver({ ...config.dns }),
): Promise<Policy> {
  return buildPolicy(config, spool, resolver, file);
}

/** Builds a queue runner for a one-shot command (errors name the file and section). */
export function queueRunnerFor(
  config: Config,
  spool: Spool,
  deps: { log?: QueueLog; policy?: Policy; file?: string; resolver?: Resolver } = {},
): Promise<QueueRunner> {
  return buildRunner(config, spool, deps);
}
