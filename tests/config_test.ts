import { assertEquals, assertMatch, assertThrows } from "./helpers/assert.ts";
import {
  ConfigError,
  defaultConfig,
  loadConfig,
  parseConfig,
  parseDuration,
  parseSize,
} from "../lib/config/mod.ts";
import { relayCli } from "./helpers/relay.ts";

const EXAMPLE = new URL("../config.example.toml", import.meta.url).pathname;

Deno.test("config.example.toml is exactly the built-in defaults", async () => {
  assertEquals(await loadConfig(EXAMPLE), defaultConfig());
});

Deno.test("defaults: loopback 2525, ./data spool, loopback trusted", () => {
  const c = defaultConfig();
  assertEquals(c.listen.map((l) => l.address), ["127.0.0.1:2525"]);
  assertEquals(c.server.spool, "./data");
  assertEquals(c.server.trusted_networks, ["127.0.0.0/8", "::1/128"]);
  assertEquals(c.smtp.command_timeout, 300_000);
  assertEquals(c.smtp.max_message_size, 50 * 1024 * 1024);
});

Deno.test("durations and sizes parse once", () => {
  assertEquals(parseDuration("1h30m"), 5_400_000);
  assertEquals(parseDuration("250ms"), 250);
  assertEquals(parseDuration(5), 5000);
  assertEquals(parseSize("10K"), 10240);
  assertEquals(parseSize("1G"), 1024 ** 3);
  assertThrows(() => parseDuration("soon"), RangeError);
  assertThrows(() => parseSize("big"), RangeError);
});

const cases: [string, string, RegExp][] = [
  [
    "unknown key",
    '[server]\nhostname = "a"\nhostnme = "x"',
    /^f\.toml:3: server\.hostnme: unknown key hostnme/,
  ],
  ["unknown section", "[sever]\n", /^f\.toml:1: sever: unknown key sever/],
  [
    "wrong type",
    '[smtp]\nmax_recipients = "ten"',
    /^f\.toml:2: smtp\.max_recipients: Invalid input: expected number/,
  ],
  [
    "bad duration",
    '[smtp]\n\ncommand_timeout = "5x"',
    /^f\.toml:3: smtp\.command_timeout: "5x" is not a duration/,
  ],
  [
    "bad size",
    '[smtp]\nmax_message_size = "huge"',
    /^f\.toml:2: smtp\.max_message_size: "huge" is not a size/,
  ],
  [
    "bad network",
    '[server]\ntrusted_networks = ["10.0.0.0/40"]',
    /^f\.toml:2: server\.trusted_networks\[0\]: .*prefix must be 0 to 32/,
  ],
  [
    "listen without port",
    '[[listen]]\naddress = "127.0.0.1:25"\n[[listen]]\naddress = "::1"',
    /^f\.toml:4: listen\[1\]\.address: .*write IPv6 addresses as \[addr\]:port/,
  ],
  [
    "bad enum",
    '[smtp]\nbare_newline = "ignore"',
    /^f\.toml:2: smtp\.bare_newline: Invalid option: expected one of "normalize"\|"reject"/,
  ],
  ["TOML syntax", '[server]\nhostname = "unterminated\n', /^f\.toml:2: TOML syntax error/],
];

for (const [what, toml, re] of cases) {
  Deno.test(`a config with ${what} fails naming file, line and key`, () => {
    const e = assertThrows(() => parseConfig(toml, "f.toml"), ConfigError);
    assertMatch(e.message, re);
  });
}

/** Writes `toml` to a file, loads it, and returns the error message (it must fail). */
async function loadError(toml: string): Promise<{ file: string; message: string }> {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/relay.toml`;
  await Deno.writeTextFile(file, toml);
  try {
    await loadConfig(file);
  } catch (e) {
    return { file, message: (e as Error).message };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  throw new Error("expected the configuration to fail");
}

Deno.test("a missing certificate file fails at load naming the key", async () => {
  const { file, message } = await loadError(
    '[tls]\ncertificate = "/nonexistent/cert.pem"\nprivate_key = "/nonexistent/key.pem"\n',
  );
  assertMatch(
    message,
    new RegExp(`^${file}:2: tls\\.certificate: cannot read /nonexistent/cert\\.pem`),
  );
});

Deno.test("a missing DKIM key file fails at load naming dkim.sign[i].key_file", async () => {
  const { message } = await loadError(
    '[[dkim.sign]]\ndomain = "example.org"\nselector = "s1"\nkey_file = "/nonexistent/k.pem"\n',
  );
  assertMatch(
    message,
    /relay\.toml:4: dkim\.sign\[0\]\.key_file: cannot read \/nonexistent\/k\.pem/,
  );
});

Deno.test({
  name: "relay check-config reports OK or the error with exit codes 0 and 1",
  async fn() {
    const ok = await relayCli(["check-config", "--config", EXAMPLE]);
    assertEquals(ok.code, 0, ok.stderr);
    assertMatch(ok.stdout, /config\.example\.toml: OK/);
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/bad.toml`, "[smtp]\nmax_errors = 0\n");
    const bad = await relayCli(["check-config", "--config", `${dir}/bad.toml`]);
    assertEquals(bad.code, 1);
    assertMatch(bad.stderr, /^relay: .*bad\.toml:2: smtp\.max_errors: Too small/);
    const serve = await relayCli(["serve", "--config", `${dir}/bad.toml`]);
    assertEquals(serve.code, 1);
    assertMatch(serve.stderr, /bad\.toml:2: smtp\.max_errors/);
    await Deno.remove(dir, { recursive: true });
  },
});
