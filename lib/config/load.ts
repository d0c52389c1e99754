import { parse, TomlError } from "smol-toml";
import { type Config, configSchema } from "./schema.ts";
import { ConfigError } from "./errors.ts";
import { formatKeyPath, locateKey } from "./locate.ts";

/**
 * Parses configuration text; `file` is only used in error messages.
 *
 * @throws {ConfigError} naming file, line and key for syntax and schema errors
 * @example Usage
 * ```ts
 * const config = parseConfig('[server]\nhostname = "mx.example.org"\n');
 * ```
 */
export function parseConfig(source: string, file = "<config>"): Config {
  let raw: unknown;
  try {
    raw = parse(source);
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0];
      throw new ConfigError(`TOML syntax error: ${first}`, { file, line: e.line });
    }
    throw e;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys;
      path.push(keys[0]);
      message = `unknown key${keys.length > 1 ? "s" : ""} ${keys.join(", ")}` +
        " (see config.example.toml for every option)";
    }
    throw new ConfigError(message, {
      file,
      line: locateKey(source, path),
      key: formatKeyPath(path),
    });
  }
  const config = result.data;
  if (!config.server.hostname) config.server.hostname = Deno.hostname();
  return config;
}

/**
 * Reads and parses a configuration file, then checks that the files it names exist.
 *
 * @throws {ConfigError} when the file cannot be read or is invalid
 */
export async function loadConfig(path: string): Promise<Config> {
  let source: string;
  try {
    source = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`Cannot read configuration: ${(e as Error).message}`, { file: path });
  }
  const config = parseConfig(source, path);
  await checkFiles(config, source, path);
  return config;
}

/** Files named by the configuration must be readable at start-up, not at first use. */
async function checkFiles(config: Config, source: string, file: string): Promise<void> {
  const single = typeof config.tls.certificate === "string";
  const named: [string, string, string][] = [
    ["tls", "certificate", single ? config.tls.certificate as string : ""],
    ["tls", "private_key", config.tls.private_key],
    ["auth", "credentials", config.auth.credentials],
    ["arc", "seal_key_file", config.arc.seal_key_file],
  ];
  const keyFiles = config.dkim.sign.map((k, i) =>
    [["dkim", "sign", i, "key_file"], k.key_file] as const
  );
  const sniFiles = single ? [] : (config.tls.certificate as { certificate: string }[]).flatMap(
    (c, i) =>
      (["certificate", "private_key"] as const).map((k) =>
        [["tls", "certificate", i, k], (c as Record<string, string>)[k]] as const
      ),
  );
  for (const [path, value] of [...keyFiles, ...sniFiles]) {
    try {
      await Deno.stat(value);
    } catch (e) {
      throw new ConfigError(`cannot read ${value}: ${(e as Error).message}`, {
        file,
        line: locateKey(source, [...path]),
        key: formatKeyPath([...path]),
      });
    }
  }
  for (const [section, key, value] of named) {
    if (!value) continue;
    try {
      await Deno.stat(value);
    } catch (e) {
      throw new ConfigError(`cannot read ${value}: ${(e as Error).message}`, {
        file,
        line: locateKey(source, [section, key]),
        key: `${section}.${key}`,
      });
    }
  }
  if (single && Boolean(config.tls.certificate) !== Boolean(config.tls.private_key)) {
    throw new ConfigError("certificate and private_key must be set together", {
      file,
      line: locateKey(source, ["tls"]),
      key: "tls",
    });
  }
}

/** The built-in defaults: what runs when no configuration file is given. */
export function defaultConfig(): Config {
  return parseConfig("", "<defaults>");
}

/**
 * A {@linkcode ConfigError} for a problem another area found after parsing (an ACL that does
 * not compile, a route naming a missing transport), located at `path` in the file.
 */
export async function configErrorAt(
  file: string | undefined,
  path: (string | number)[],
  detail: string,
): Promise<ConfigError> {
  if (!file) return new ConfigError(detail, { key: formatKeyPath(path) });
  const source = await Deno.readTextFile(file).catch(() => "");
  return new ConfigError(detail, { file, line: locateKey(source, path), key: formatKeyPath(path) });
}
