import { hashPassword } from "../auth/mod.ts";
import { parseCommandArgs, UsageError } from "./args.ts";
import { out } from "./context.ts";

/** Usage of `relay passwd`. */
export const PASSWD_HELP = `Usage: relay passwd USER < password

Reads a password from standard input (first line) and prints a credentials line
"USER:$scrypt$..." for the [auth] credentials file.`;

/** `relay passwd USER`. */
export async function passwdCommand(args: string[]): Promise<number> {
  const { positionals, help } = parseCommandArgs(args, {}, { min: 1, max: 1 });
  if (help) {
    out(PASSWD_HELP);
    return 0;
  }
  const user = positionals[0];
  if (!/^[^\s:#]+$/.test(user)) throw new UsageError("USER must not contain spaces, ':' or '#'");
  const input = await new Response(Deno.stdin.readable).text();
  const password = input.split(/\r?\n/)[0];
  if (!password) throw new UsageError("no password on standard input");
  out(`${user}:${await hashPassword(password)}`);
  return 0;
}
