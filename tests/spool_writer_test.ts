import { createHash } from "node:crypto";
import { testEnvelope } from "./helpers/envelope.ts";
import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { CHUNK_SIZE, removeFinished, Spool, SpoolError, SpoolWriter } from "../lib/spool/mod.ts";
import { newMessageId } from "../lib/envelope/mod.ts";
import { BodyCanonHasher, canonBody } from "../lib/senderauth/dkim_canon.ts";

/** Every key the spool holds under a prefix. */
async function keys(spool: Spool, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  const out: Deno.KvKey[] = [];
  for await (const e of spool.kv.list({ prefix })) out.push(e.key);
  return out;
}

/** Waits until `check` is true (background clean-up), at most 5 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met within 5 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A body of `n` bytes in pieces of `piece` bytes, as a session feeds it. */
function* pieces(n: number, piece: number): Generator<Uint8Array> {
  for (let off = 0; off < n; off += piece) {
    yield new Uint8Array(Math.min(piece, n - off)).map((_, i) => (off + i) % 251);
  }
}

Deno.test("a streamed 3 MB body is in the spool before its envelope, then read back with the head record first", async () => {
  const spool = await Spool.open(":memory:");
  const id = newMessageId();
  const w = new SpoolWriter(spool, id);
  const hash = createHash("sha256");
  let sawPartial = false;
  for (const p of pieces(3_000_000, 65536)) {
    w.write(p);
    hash.update(p);
    if (w.backlogged) await w.drain();
    sawPartial ||= (await spool.kv.get(["partial", id])).value !== null;
  }
  assert(sawPartial, "chunks went to the spool under a partial marker while the body came in");
  assertEquals(await spool.get(id), null); // not a message until finish()
  const head = new TextEncoder().encode("Received: from x\r\n");
  const env = testEnvelope({ id, recipients: ["b@example.org"] });
  await w.finish(env, head);
  const stored = (await spool.get(id))!;
  assertEquals(stored.size, 3_000_000 + head.length);
  assertEquals(stored.headSize, head.length);
  assertEquals(stored.chunks, Math.ceil(3_000_000 / CHUNK_SIZE));
  assertEquals(stored.bodySha256, hash.digest("hex"));
  assertEquals((await keys(spool, ["partial"])).length, 0);
  const body = await spool.readBody(id);
  assertEquals(body.length, stored.size);
  assertEquals(new TextDecoder().decode(body.subarray(0, head.length)), "Received: from x\r\n");
  assertEquals(body[head.length + 1000], 1000 % 251);
  await removeFinished(spool, stored);
  assertEquals((await keys(spool, ["body", id])).length, 0);
  spool.close();
});

Deno.test("a dropped body (refused, aborted, too big) leaves no chunk or partial marker behind", async () => {
  const spool = await Spool.open(":memory:");
  for (const how of ["drop", "too big"] as const) {
    const id = newMessageId();
    const w = new SpoolWriter(spool, id, how === "too big" ? 1_000_000 : Infinity);
    for (const p of pieces(2_000_000, 65536)) {
      w.write(p);
      if (w.backlogged) await w.drain();
    }
    if (how === "drop") w.drop();
    else assert(w.tooBig);
    w.drop();
    await until(async () =>
      (await keys(spool, ["body", id])).length === 0 &&
      (await spool.kv.get(["partial", id])).value === null
    );
    await assertRejects(() => w.finish(testEnvelope({ id }), new Uint8Array(0)), SpoolError);
    assertEquals(await spool.get(id), null);
  }
  spool.close();
});

Deno.test("a small body is committed once, with its envelope, never under a partial marker", async () => {
  const spool = await Spool.open(":memory:");
  const id = newMessageId();
  const w = new SpoolWriter(spool, id);
  for (const p of pieces(100_000, 4096)) w.write(p);
  assertEquals((await keys(spool, ["body"])).length, 0);
  await w.finish(testEnvelope({ id }), new Uint8Array(0));
  assertEquals((await keys(spool, ["body", id])).length, 2);
  assertEquals((await spool.readBody(id)).length, 100_000);
  spool.close();
});

Deno.test("the streamed DKIM body hash equals canonBody's, however the body is split", () => {
  const samples = [
    "",
    "\r\n",
    "\r\n\r\n\r\n",
    "a\r\n",
    "a",
    "a  b \t \r\n\r\n c\t\r\n\r\n\r\n",
    " lead\r\n\r\nmid  \r\n  \r\n\t\r\nend \t",
    "x\r\n \r\n",
  ];
  for (let i = 0; i < 40; i++) {
    let t = "";
    for (let j = 0; j < 200; j++) t += ["a", " ", "\t", "\r\n", "b", "  "][(i * 31 + j * j) % 6];
    samples.push(t);
  }
  for (const relaxed of [true, false]) {
    for (const text of samples) {
      const want = createHash("sha256").update(canonBody(text, relaxed), "latin1").digest(
        "base64",
      );
      for (const step of [1, 2, 3, 7, 1000]) {
        const h = new BodyCanonHasher(relaxed);
        for (let off = 0; off < text.length; off += step) h.update(text.slice(off, off + step));
        assertEquals(
          h.digest(),
          want,
          `${relaxed ? "relaxed" : "simple"} ${JSON.stringify(text)} by ${step}`,
        );
      }
    }
  }
});
