/**
 * edge relay: command-line entry. Parses the command, runs it, maps errors to exit codes.
 *
 * @module
 */
import {
  checkConfigCommand,
  dmarcCommand,
  lookupCommand,
  passwdCommand,
  queueCommand,
  serveCommand,
  testSessionCommand,
  UsageError,
} from "./lib/cli/mod.ts";
import { ConfigError } from "./lib/config/mod.ts";

const USAGE = `edge relay: a mail transfer agent

Usage: relay <command> [options]

Commands:
  serve [--config FILE]             run the relay (built-in defaults without --config)
  check-config --config FILE        validate a configuration file
  queue list|show|remove ...        inspect and manage the spool
  passwd USER                       make a credentials line from a password on stdin
  lookup [--config FILE] NAME KEY   query a lookup table (set/get/delete/list for kv tables)
  test-session --from-ip IP         run SMTP from stdin through the session and ACLs, dry
  dmarc report [--since 24h]        write (and --send) DMARC aggregate reports

Run "relay <command> --help" for a command's options.`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve: serveCommand,
  "check-config": checkConfigCommand,
  queue: queueCommand,
  passwd: passwdCommand,
  lookup: lookupCommand,
  "test-session": testSessionCommand,
  dmarc: dmarcCommand,
};

function fail(message: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`relay: ${message}\n`));
}

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    Deno.stdout.writeSync(new TextEncoder().encode(USAGE + "\n"));
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    fail(`unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      fail(`${name}: ${e.message} (see relay ${name} --help)`);
      return 2;
    }
    if (e instanceof ConfigError) {
      fail(e.message);
      return 1;
    }
    fail(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
