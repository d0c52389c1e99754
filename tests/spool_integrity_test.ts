/** A damaged or missing spool database is found at start, not after mail got 250. */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayCli, spawnRelay } from "./helpers/relay.ts";
import { Spool } from "../lib/spool/mod.ts";
import { testEnvelope } from "./helpers/envelope.ts";

const QUEUE_ONLY = "[queue]\ndeliver = false\n";

/** Starts serve expecting it to refuse; returns its output. */
async function refusal(dir: string): Promise<string> {
  try {
    const r = await spawnRelay(dir, QUEUE_ONLY);
    await r.stop();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("relay serve started");
}

/** A spool with some mail in it, made by a real serve run (lock file and all). */
async function usedSpool(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "relay-integrity-" });
  const relay = await spawnRelay(dir, QUEUE_ONLY);
  assertEquals(await relay.stop(), 0);
  const spool = await Spool.open(`${dir}/spool`);
  for (let i = 0; i < 200; i++) {
    await spool.store(testEnvelope({ recipients: ["r@example.org"] }), [
      new TextEncoder().encode(`Subject: ${i}\r\n\r\n${"x".repeat(2000)}\r\n`),
    ]);
  }
  spool.close();
  return dir;
}

Deno.test({
  name: "4 KB of random bytes in spool.kv: serve refuses, naming the file and the way out",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await usedSpool();
    const path = `${dir}/spool/spool.kv`;
    const f = await Deno.open(path, { write: true });
    await f.seek(8192, Deno.SeekMode.Start);
    await f.write(crypto.getRandomValues(new Uint8Array(4096)));
    f.close();
    const out = await refusal(dir);
    assertMatch(out, new RegExp(`Spool database ${path} is damaged`));
    assertMatch(out, /\.recover/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a missing spool.kv beside an earlier spool's files is reported, not replaced",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await usedSpool();
    await Deno.remove(`${dir}/spool/spool.kv`);
    const out = await refusal(dir);
    assertMatch(out, /spool\.kv is missing but the folder holds .*spool\.lock/);
    assertEquals(
      await Deno.stat(`${dir}/spool/spool.kv`).then(() => true, () => false),
      false,
      "no new empty spool was made",
    );
    // Empty (0 bytes) is the same.
    await Deno.writeFile(`${dir}/spool/spool.kv`, new Uint8Array());
    assertMatch(await refusal(dir), /spool\.kv is empty/);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "the spool folder is mode 0700 and its files 0600",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-integrity-" });
    const relay = await spawnRelay(dir, QUEUE_ONLY);
    try {
      assertEquals((await Deno.stat(`${dir}/spool`)).mode! & 0o777, 0o700);
      for (const f of ["spool.kv", "spool.kv-wal", "spool.kv-shm", "spool.lock"]) {
        const st = await Deno.stat(`${dir}/spool/${f}`);
        assertEquals((st.mode! & 0o777).toString(8), "600", f);
      }
    } finally {
      await relay.stop();
    }
    // An older spool made readable by all is tightened when opened.
    await Deno.chmod(`${dir}/spool/spool.kv`, 0o644);
    const list = await relayCli(["queue", "list", "--config", relay.configPath]);
    assertEquals(list.code, 0, list.stderr);
    assertEquals((await Deno.stat(`${dir}/spool/spool.kv`)).mode! & 0o777, 0o600);
    await Deno.remove(dir, { recursive: true });
  },
});
