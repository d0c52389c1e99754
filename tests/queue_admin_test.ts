import { testEnvelope } from "./helpers/envelope.ts";
import { assertEquals } from "./helpers/assert.ts";
import { deliveryConfigSchema } from "../lib/config/schema_delivery.ts";
import { activeRunner, createQueueRunner, removeQueued, runQueue } from "../lib/queue/mod.ts";
import { Spool } from "../lib/spool/mod.ts";
import { newMessageId } from "../lib/envelope/mod.ts";
import { FakePeer } from "./helpers/fake_smtp_peer.ts";
import { waitFor } from "./helpers/wait.ts";

async function enqueue(spool: Spool, nextAttempt: number): Promise<string> {
  const id = newMessageId();
  await spool.store(
    testEnvelope({
      id,
      recipients: [{ address: "a@dest.test", status: "deferred", attempts: 1, nextAttempt }],
    }),
    [new TextEncoder().encode("Subject: admin\r\n\r\nx\r\n")],
  );
  return id;
}

Deno.test("runQueue and removeQueued work alone, or through a running relay's runner", async () => {
  const peer = await FakePeer.start();
  const spool = await Spool.open(":memory:");
  const settings = deliveryConfigSchema.parse({
    route: [{ domains: "*", transport: "p" }],
    transport: { p: { hosts: [peer.address], idle_timeout: "0s" } },
  });
  const deps = { spool, hostname: "relay.test" };
  try {
    const later = Date.now() + 3_600_000;
    const a = await enqueue(spool, later);
    assertEquals(await runQueue(settings, deps), {
      summary: { messages: 0, delivered: 0, deferred: 0, failed: 0, bounces: 0 },
    }); // not due
    const flushed = await runQueue(settings, deps, { id: a });
    assertEquals("summary" in flushed && flushed.summary.delivered, 1);
    const b = await enqueue(spool, later);
    assertEquals(await removeQueued(settings, deps, b, false), { removed: true });
    assertEquals(await spool.get(b), null);
    // With a runner running (as in `relay serve`), the commands are handed to it.
    const serving = createQueueRunner(settings, deps);
    serving.start();
    await waitFor(() => activeRunner(spool), { what: "the runner's lease" });
    const c = await enqueue(spool, later);
    const out = await runQueue(settings, deps, { id: c });
    assertEquals("handedTo" in out && out.handedTo.pid, Deno.pid);
    await waitFor(async () => !(await spool.get(c)), { what: "the message delivered" });
    assertEquals(await spool.get(c), null);
    await serving.stop();
    assertEquals(peer.messages.length, 2);
  } finally {
    spool.close();
    await peer.close();
  }
});
