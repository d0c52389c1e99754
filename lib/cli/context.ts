import { type Config, defaultConfig, loadConfig } from "../config/mod.ts";
import { Spool } from "../spool/mod.ts";

/** Loads `--config FILE`, or the built-in defaults when none is given. */
export async function configFrom(path: string | boolean | undefined): Promise<Config> {
  return typeof path === "string" ? await loadConfig(path) : defaultConfig();
}

/** Opens the spool a configuration names. */
export function openSpool(config: Config): Promise<Spool> {
  return Spool.open(config.server.spool);
}

/** Writes a line to stdout. */
export function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}
