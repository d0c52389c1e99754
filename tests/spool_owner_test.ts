/** One process owns a spool: a second serve is refused, naming the first one's pid. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { relayCli, spawnRelay } from "./helpers/relay.ts";

const QUEUE_ONLY = "[queue]\ndeliver = false\n";

async function refused(dir: string): Promise<string> {
  try {
    const second = await spawnRelay(dir, QUEUE_ONLY);
    await second.stop();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("a second relay serve started on a spool in use");
}

Deno.test({
  name: "a second serve on one spool is refused with the pid; after kill -9 a new one starts",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-owner-" });
    const first = await spawnRelay(dir, QUEUE_ONLY);
    try {
      const message = await refused(dir);
      assertMatch(message, new RegExp(`in use by another process \\(pid ${first.child.pid}\\)`));
      assertMatch(message, /spool\.lock/);
      assertEquals(
        (await Deno.readTextFile(`${dir}/spool/spool.lock`)).trim(),
        String(first.child.pid),
      );
      // A CLI command that writes is not run beside it: with no queue runner to hand the
      // request to ([queue] deliver = false), it is refused naming the owner.
      const flush = await relayCli(["queue", "flush", "--config", first.configPath]);
      assertEquals(flush.code, 1, flush.stdout);
      assertMatch(flush.stderr, new RegExp(`pid ${first.child.pid}`));
      // Reading is fine.
      const list = await relayCli(["queue", "list", "--config", first.configPath]);
      assertEquals(list.code, 0, list.stderr);
    } finally {
      assertEquals(await first.stop("SIGKILL"), 137);
    }
    // The OS released the lock with the process: no stale lock after a crash.
    const again = await spawnRelay(dir, QUEUE_ONLY);
    assertEquals(await again.stop("SIGTERM"), 0);
    // With nothing running, the CLI takes the lock itself and works.
    const flush = await relayCli(["queue", "flush", "--config", again.configPath]);
    assertEquals(flush.code, 0, flush.stderr);
    assert(/0 message\(s\)/.test(flush.stdout), flush.stdout);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "queue flush while serve delivers is handed to the running relay",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-owner-" });
    const relay = await spawnRelay(dir, '[queue]\ninterval = "1h"\n');
    try {
      const flush = await relayCli(["queue", "flush", "--config", relay.configPath]);
      assertEquals(flush.code, 0, flush.stderr);
      assertMatch(
        flush.stdout,
        new RegExp(`handed to the running relay \\(pid ${relay.child.pid}`),
      );
    } finally {
      await relay.stop();
    }
    await Deno.remove(dir, { recursive: true });
  },
});
