// `relay lookup ...` command functions, run in a child process as an admin would run them.
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { makeLmdb } from "./helpers/lmdb.ts";

const ROOT = new URL("../", import.meta.url);

// Runs lookupCommand(args) (or queryCommand with extra tables) in a child Deno.
async function relayLookup(
  args: string[],
  tables: Record<string, unknown> = {},
  spool = ":memory:",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `
    import { defaultConfig } from "${new URL("lib/config/mod.ts", ROOT)}";
    import { lookupCommand, queryCommand } from "${new URL("lib/cli/lookup.ts", ROOT)}";
    const config = { ...defaultConfig(), lookup: ${JSON.stringify(tables)} };
    config.server.spool = ${JSON.stringify(spool)};
    const args = ${JSON.stringify(args)};
    const sub = ["set", "get", "delete", "list", "--help"].includes(args[0]);
    Deno.exit(sub ? await lookupCommand(args) : await queryCommand(config, args[0], args[1], args[2] === "--list"));
  `;
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/run.ts`, script);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      "--config",
      new URL("deno.json", ROOT).pathname,
      `${dir}/run.ts`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("relay lookup NAME KEY prints the value, exits 1 when absent, 75 when deferred", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/domains`,
    "example.org: local\n*.example.net: relay\nlist.test: a, b\n",
  );
  const mdb = await makeLmdb([["k", "from lmdb"]]);
  const tables = {
    domains: { driver: "file", path: `${dir}/domains` },
    m: { driver: "lmdb", path: mdb },
    r: { driver: "redis", servers: ["127.0.0.1:1"], timeout: 200 },
  };
  try {
    assertEquals(await relayLookup(["domains", "mx.example.net"], tables), {
      code: 0,
      stdout: "relay\n",
      stderr: "",
    });
    assertEquals((await relayLookup(["domains", "list.test", "--list"], tables)).stdout, "a\nb\n");
    assertEquals((await relayLookup(["m", "k"], tables)).stdout, "from lmdb\n");
    const absent = await relayLookup(["domains", "example.com"], tables);
    assertEquals([absent.code, absent.stdout], [1, ""]);
    assertMatch(absent.stderr, /not found/);
    const deferred = await relayLookup(["r", "x"], tables);
    assertEquals(deferred.code, 75);
    assertMatch(deferred.stderr, /lookup deferred: .*no Redis server answered/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(mdb, { recursive: true });
  }
});

Deno.test("relay lookup set/get/delete/list manage KV tables in the spool", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = `${dir}/relay.toml`;
  await Deno.writeTextFile(cfg, `[server]\nspool = "${dir}/spool"\n`);
  try {
    assertEquals(
      (await relayLookup(["set", "--config", cfg, "senders", "a@example.org", "ok"])).code,
      0,
    );
    await relayLookup([
      "set",
      "--config",
      cfg,
      "senders",
      "team",
      "x@example.org",
      "y@example.org",
    ]);
    const got = await relayLookup(["get", "--config", cfg, "senders", "a@example.org"]);
    assertEquals([got.code, got.stdout], [0, "ok\n"]);
    assertEquals(
      (await relayLookup(["list", "--config", cfg, "senders"])).stdout,
      "a@example.org: ok\nteam: x@example.org,y@example.org\n",
    );
    const spool = `${dir}/spool`;
    const q = await relayLookup(
      ["senders", "team", "--list"],
      { senders: { driver: "kv" } },
      spool,
    );
    assertEquals(q.stdout, "x@example.org\ny@example.org\n");
    assertEquals(
      (await relayLookup(["delete", "--config", cfg, "senders", "a@example.org"])).code,
      0,
    );
    assertEquals(
      (await relayLookup(["delete", "--config", cfg, "senders", "a@example.org"])).code,
      1,
    );
    assertEquals((await relayLookup(["get", "--config", cfg, "senders", "a@example.org"])).code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
