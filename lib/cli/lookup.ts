import type { Config } from "../config/mod.ts";
import {
  KvLookup,
  type Lookup,
  LookupDeferError,
  type LookupTableConfig,
  openLookup,
} from "../lookup/mod.ts";
import { resolverFor } from "../relay/mod.ts";
import { relayResolver } from "../policy/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { configFrom, openSpool, out } from "./context.ts";

/** Usage of `relay lookup`. */
export const LOOKUP_HELP = `Usage: relay lookup [--config FILE] [--list] NAME KEY
       relay lookup set [--config FILE] NAME KEY VALUE [VALUE...]
       relay lookup get|delete [--config FILE] NAME KEY
       relay lookup list [--config FILE] NAME

  NAME KEY            looks KEY up in the [lookup.NAME] table as the relay does (no cache)
                      and prints the value; --list prints a list result one item a line.
                      Exit 0 found, 1 absent, 75 temporary failure (the relay would defer).
  set NAME KEY VALUE  stores KEY in the relay's KV table NAME (several VALUEs: a list)
  get NAME KEY        prints KEY from the KV table NAME (exit 1 when absent)
  delete NAME KEY     removes KEY from the KV table NAME (exit 1 when absent)
  list NAME           prints the KV table NAME, one "key: value" a line

KV tables are [lookup.NAME] with driver = "kv"; their keys live in the spool's database.`;

/** Exit code for a lookup that deferred (sysexits EX_TEMPFAIL). */
export const EXIT_TEMPFAIL = 75;

const KV_SUBCOMMANDS: Record<string, { min: number; max: number }> = {
  set: { min: 3, max: 1000 },
  get: { min: 2, max: 2 },
  delete: { min: 2, max: 2 },
  list: { min: 1, max: 1 },
};

/** The `[lookup.NAME]` tables of a configuration (none before the schema has them). */
export function lookupTables(config: Config): Record<string, LookupTableConfig> {
  return (config as unknown as { lookup?: Record<string, LookupTableConfig> }).lookup ?? {};
}

/**
 * `relay lookup ...`: query any table, or manage the KV tables.
 *
 * @returns the exit code: 0 found/done, 1 absent, 2 usage, 75 temporary failure
 */
export async function lookupCommand(args: string[]): Promise<number> {
  const sub = args[0] in KV_SUBCOMMANDS ? args[0] : null;
  const { values, positionals, help } = parseCommandArgs(sub ? args.slice(1) : args, {
    config: { type: "string", short: "c" },
    list: { type: "boolean" },
  }, sub ? KV_SUBCOMMANDS[sub] : { min: 2, max: 2 });
  if (help) {
    out(LOOKUP_HELP);
    return 0;
  }
  const config = await configFrom(values.config);
  return sub
    ? await kvCommand(config, sub, positionals)
    : await queryCommand(config, positionals[0], positionals[1], values.list === true);
}

/**
 * Looks a key up through the configured driver and prints the result.
 *
 * @returns 0 found, 1 absent, 75 when the lookup deferred
 */
export async function queryCommand(
  config: Config,
  name: string,
  key: string,
  list = false,
): Promise<number> {
  const table = lookupTables(config)[name];
  if (!table) throw new UsageError(`no [lookup.${name}] table in the configuration`);
  const spool = table.driver === "kv" ? await openSpool(config) : null;
  let lookup: Lookup | null = null;
  try {
    lookup = await openLookup(name, table, {
      kv: spool?.keyspace("lookup"),
      resolver: relayResolver(resolverFor(config)),
    });
    const value = list && lookup.members ? await lookup.members(key) : await lookup.get(key);
    if (value === null) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(`${name}: ${JSON.stringify(key)} not found\n`),
      );
      return 1;
    }
    out(Array.isArray(value) ? value.join("\n") : value);
    return 0;
  } catch (e) {
    if (!(e instanceof LookupDeferError)) throw e;
    Deno.stderr.writeSync(new TextEncoder().encode(`relay: lookup deferred: ${e.message}\n`));
    return EXIT_TEMPFAIL;
  } finally {
    await lookup?.close();
    spool?.close();
  }
}

async function kvCommand(
  config: Config,
  sub: string,
  [name, key, ...rest]: string[],
): Promise<number> {
  const table = lookupTables(config)[name];
  if (table && table.driver !== "kv") {
    throw new UsageError(`[lookup.${name}] uses driver ${table.driver}; set/get/delete need kv`);
  }
  if (!table) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`relay: note: no [lookup.${name}] with driver = "kv" configured\n`),
    );
  }
  const spool = await openSpool(config);
  const kv = new KvLookup(name, spool.keyspace("lookup"));
  try {
    switch (sub) {
      case "set":
        await kv.set(key, rest.length === 1 ? rest[0] : rest);
        return 0;
      case "get": {
        const v = await kv.get(key);
        if (v === null) return 1;
        out(v);
        return 0;
      }
      case "delete":
        return (await kv.delete(key)) ? 0 : 1;
      default:
        for (const [k, v] of await kv.list(100_000)) out(`${k}: ${v}`);
        return 0;
    }
  } finally {
    spool.close();
  }
}
