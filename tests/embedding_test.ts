/**
 * The embedding API (mod.ts) does what its documentation example shows: start from settings,
 * observe events, inject, stop.
 */
import { EdgeRelay } from "../mod.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { swaks } from "./helpers/clients.ts";

Deno.test("mod.ts: a program starts a relay from settings, injects a message, sees it delivered, stops it", async () => {
  const relay = await EdgeRelay.start({
    server: { hostname: "relay.example.test", spool: ":memory:", reverse_dns: false },
    listen: [{ address: "127.0.0.1:0" }],
    route: [{ domains: "*", transport: "drop" }],
    transport: { drop: { driver: "discard" } },
  });
  const kinds: string[] = [];
  const delivered = Promise.withResolvers<string>();
  relay.onEvent((e) => {
    kinds.push(e.kind);
    if (e.kind === "delivered") delivered.resolve(e.id);
  });
  // A listener that rejects is logged and counted, never fatal.
  relay.onEvent(() => Promise.reject(new Error("listener bug")));
  try {
    assert(relay.addresses[0].port > 0);
    const id = await relay.inject({
      sender: "app@example.test",
      recipients: ["user@example.org"],
      content: "Subject: hello\n\nHi.\n",
    });
    assertEquals(await delivered.promise, id);
    assertEquals(kinds.slice(0, 2), ["arrival", "delivered"]);
  } finally {
    await relay.stop();
  }
});

Deno.test("mod.ts: the embedded relay accepts SMTP on its bound port", async () => {
  const relay = await EdgeRelay.start({
    server: { hostname: "relay.example.test", spool: ":memory:", reverse_dns: false },
    listen: [{ address: "127.0.0.1:0" }],
    queue: { deliver: false },
  });
  try {
    const arrived = Promise.withResolvers<string>();
    relay.onEvent((e) => {
      if (e.kind === "arrival") arrived.resolve(e.sender);
    });
    const r = await swaks(relay.addresses[0].port, [
      "--from",
      "a@example.test",
      "--to",
      "b@example.test",
    ]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertEquals(await arrived.promise, "a@example.test");
    assertEquals((await relay.queued()).length, 1);
  } finally {
    await relay.stop();
  }
});
