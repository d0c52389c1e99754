import { testEnvelope } from "./helpers/envelope.ts";
import { assertEquals } from "./helpers/assert.ts";
import { Spool } from "../lib/spool/mod.ts";
import { newMessageId } from "../lib/envelope/mod.ts";
import { FakePeer } from "./helpers/fake_smtp_peer.ts";
import { waitFor } from "./helpers/wait.ts";
import { createQueueRunner } from "../lib/queue/mod.ts";
import { deliveryConfigSchema } from "../lib/config/schema_delivery.ts";

const WORKER = new URL("./helpers/queue_worker.ts", import.meta.url).pathname;

async function enqueue(spool: Spool, subject: string): Promise<string> {
  const id = newMessageId();
  await spool.store(testEnvelope({ id, recipients: ["rcpt@dest.test"] }), [
    new TextEncoder().encode(`Subject: ${subject}\r\n\r\nbody\r\n`),
  ]);
  return id;
}

async function until(cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  await waitFor(cond, { timeoutMs: ms, intervalMs: 25 });
}

Deno.test("kill -9 during delivery loses nothing and re-sends nothing confirmed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queue-crash-" });
  let hangOnce = true;
  let hungSeen = false;
  const peer = await FakePeer.start({
    onData: (body) => {
      if (body.includes("Subject: two") && hangOnce) {
        hangOnce = false;
        hungSeen = true;
        return "hang"; // the peer has the data but never confirms it
      }
      return undefined;
    },
  });
  const spool = await Spool.open(dir);
  const ids = [
    await enqueue(spool, "one"),
    await enqueue(spool, "two"),
    await enqueue(spool, "three"),
  ];
  const worker = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-kv", "-A", WORKER, dir, peer.address],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await until(async () =>
      hungSeen && (await spool.get(ids[0])) === null && (await spool.get(ids[2])) === null
    );
    worker.kill("SIGKILL");
    await worker.status;
    assertEquals(peer.messages.length, 2);
    const left = await spool.get(ids[1]);
    assertEquals(left?.recipients[0].status, "pending");
    // Restart: the interrupted message goes again, nothing else does.
    const runner = createQueueRunner(
      deliveryConfigSchema.parse({
        route: [{ domains: "*", transport: "s" }],
        transport: { s: { hosts: [peer.address], idle_timeout: "0s" } },
      }),
      { spool, hostname: "relay.test" },
    );
    await runner.runOnce();
    await runner.stop();
    assertEquals(await spool.get(ids[1]), null);
    const subjects = peer.messages.map((m) => /Subject: (\w+)/.exec(m.body)![1]).sort();
    assertEquals(subjects, ["one", "three", "two"]);
  } finally {
    try {
      worker.kill("SIGKILL");
    } catch { /* already dead */ }
    await worker.status;
    spool.close();
    await peer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
