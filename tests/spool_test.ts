import { testEnvelope } from "./helpers/envelope.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { CHUNK_SIZE, Spool } from "../lib/spool/mod.ts";
import { type Envelope, isMessageId, newMessageId } from "../lib/envelope/mod.ts";

function envelope(id = newMessageId()): Envelope {
  return testEnvelope({ id, sender: "a@example.com", recipients: ["b@example.org"] });
}

Deno.test("message ids sort by time and are unique", () => {
  const ids = Array.from({ length: 5000 }, () => newMessageId());
  assertEquals(new Set(ids).size, ids.length);
  assertEquals([...ids].sort(), ids);
  assert(ids.every(isMessageId));
  const later = newMessageId(Date.now() + 60_000);
  assert(later > ids[ids.length - 1] && later.slice(0, 10) > ids[0].slice(0, 10));
});

Deno.test("store, get, read body, list and remove", async () => {
  const spool = await Spool.open(":memory:");
  const e = envelope();
  await spool.store(e, [new TextEncoder().encode("Subject: x\r\n\r\nhi\r\n")]);
  assertEquals((await spool.get(e.id))?.size, 18);
  assertEquals(new TextDecoder().decode(await spool.readBody(e.id)), "Subject: x\r\n\r\nhi\r\n");
  assertEquals((await Array.fromAsync(spool.list())).map((x) => x.id), [e.id]);
  assert(await spool.remove(e.id));
  assertEquals(await spool.get(e.id), null);
  assertEquals((await Array.fromAsync(spool.kv.list({ prefix: [] }))).length, 0);
  assert(!(await spool.remove(e.id)));
  spool.close();
});

Deno.test("a 3 MB body is chunked over several commits and read back intact", async () => {
  const spool = await Spool.open(":memory:");
  const body = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251);
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < body.length; off += 10_000) pieces.push(body.subarray(off, off + 10_000));
  const e = envelope();
  await spool.store(e, pieces);
  const stored = await spool.get(e.id);
  assertEquals(stored?.chunks, Math.ceil(body.length / CHUNK_SIZE));
  assertEquals(await spool.readBody(e.id), body);
  assertEquals((await Array.fromAsync(spool.kv.list({ prefix: ["partial"] }))).length, 0);
  spool.close();
});

Deno.test("orphan chunks of a half-written large message are cleaned on start", async () => {
  const dir = await Deno.makeTempDir();
  let spool = await Spool.open(dir);
  const id = newMessageId();
  // What a crash between chunk commits and the envelope commit leaves behind.
  await spool.kv.set(["partial", id], Date.now());
  await spool.kv.set(["body", id, 0], new Uint8Array(10));
  const kept = envelope();
  await spool.store(kept, [new Uint8Array(5)]);
  spool.close();
  spool = await Spool.open(dir);
  assertEquals(await spool.cleanOrphans(), [id]);
  assertEquals((await Array.fromAsync(spool.kv.list({ prefix: ["body", id] }))).length, 0);
  assert(await spool.get(kept.id));
  spool.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("concurrent stores share commits and all become durable", async () => {
  const dir = await Deno.makeTempDir();
  const spool = await Spool.open(dir);
  const body = new Uint8Array(10 * 1024);
  const envs = Array.from({ length: 200 }, () => envelope());
  await Promise.all(envs.map((e) => spool.store(e, [body])));
  spool.close();
  const again = await Spool.open(dir);
  assertEquals((await Array.fromAsync(again.list())).length, 200);
  again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an envelope with 1,000 long recipients is stored, updated, read and removed", async () => {
  const spool = await Spool.open(":memory:");
  const long = "x".repeat(60);
  const e = testEnvelope({
    recipients: Array.from({ length: 1000 }, (_, i) => ({
      address: `${long}${i}@${long}.example.org`,
      orcpt: `rfc822;${long}${i}@${long}.example.org`,
      notify: ["SUCCESS", "FAILURE"],
    })),
  });
  await spool.store(e, [new Uint8Array(10)]);
  const back = (await spool.get(e.id))!;
  assertEquals(back.recipients.map((r) => r.address), e.recipients.map((r) => r.address));
  back.recipients[999].status = "delivered";
  await spool.update(back);
  assertEquals((await spool.get(e.id))!.recipients[999].status, "delivered");
  assertEquals((await Array.fromAsync(spool.list()))[0].recipients.length, 1000);
  assert(await spool.remove(e.id));
  assertEquals((await Array.fromAsync(spool.kv.list({ prefix: [] }))).length, 0);
  spool.close();
});
