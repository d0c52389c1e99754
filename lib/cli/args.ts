import { parseArgs } from "node:util";

/** The command line is wrong; the message says how, and the command's usage follows. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Option definitions as node:util parseArgs takes them. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/**
 * Parses a command's arguments; `--help` is always known.
 *
 * @throws {UsageError} for unknown options or a wrong number of positionals
 */
export function parseCommandArgs<O extends OptionSpec>(
  args: string[],
  options: O,
  positionals: { min: number; max: number },
): { values: Record<string, string | boolean | undefined>; positionals: string[]; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const help = (parsed.values as Record<string, unknown>).help === true;
  const n = parsed.positionals.length;
  if (!help && (n < positionals.min || n > positionals.max)) {
    throw new UsageError(
      positionals.max === 0
        ? "this command takes no arguments"
        : `expected ${
          positionals.min === positionals.max
            ? positionals.min
            : `${positionals.min} to ${positionals.max}`
        } argument(s), got ${n}`,
    );
  }
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
    help,
  };
}
