/**
 * Signals to a real `relay serve` process: SIGUSR1 (an Exim admin's habit) must not open
 * Deno's V8 inspector on 127.0.0.1:9229, and the relay goes on serving.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { spawnRelay } from "./helpers/relay.ts";
import { RawClient } from "./helpers/raw_smtp.ts";

async function listening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("SIGUSR1 does not open a V8 inspector in relay serve", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-sigusr1-" });
  const relay = await spawnRelay(dir);
  try {
    assert(!(await listening(9229)), "something already listens on 127.0.0.1:9229");
    // Deno installs its SIGUSR1 handler about 500 ms after start: signal well after that.
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 3; i++) {
      relay.child.kill("SIGUSR1");
      await new Promise((r) => setTimeout(r, 300));
    }
    assert(!(await listening(9229)), "an inspector listens on 127.0.0.1:9229");
    assertEquals(relay.lines.filter((l) => /Debugger listening|inspect/i.test(l)), []);
    const c = await RawClient.connect(relay.port);
    assertMatch((await c.replies(1))[0] ?? "", /^220 /);
    c.close();
  } finally {
    assertEquals(await relay.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
