/** Spool commits that fail half-way through a large message leave nothing behind. */
import { assertEquals, assertRejects } from "./helpers/assert.ts";
import { Spool } from "../lib/spool/mod.ts";
import { newMessageId } from "../lib/envelope/mod.ts";
import { testEnvelope } from "./helpers/envelope.ts";

async function chunksOf(spool: Spool, id: string): Promise<number> {
  let n = 0;
  for await (const _ of spool.kv.list({ prefix: ["body", id] })) n++;
  return n;
}

/** An in-memory spool whose commits `from` to `until` fail (a disk that fills up). */
async function failingSpool(): Promise<
  { spool: Spool; fail: (from: number, until?: number) => void }
> {
  const spool = await Spool.open(":memory:");
  let count = 0;
  let failFrom = Infinity;
  let failUntil = Infinity;
  const commit = spool.commit.bind(spool);
  spool.commit = (m) => {
    count++;
    return count >= failFrom && count <= failUntil
      ? Promise.reject(new Error("database or disk is full"))
      : commit(m);
  };
  return {
    spool,
    fail(from, until = Infinity) {
      count = 0;
      failFrom = from;
      failUntil = until;
    },
  };
}

// 20 MB: chunks go in several commits of about 780 KB under a "partial" marker.
const BIG = new Uint8Array(20 * 1024 * 1024).fill(0x61);

Deno.test("a large store whose commit fails half-way removes the chunks it wrote", async () => {
  const { spool, fail } = await failingSpool();
  try {
    const id = newMessageId();
    fail(6, 6); // the partial marker and 4 chunk batches commit, then one fails
    let partials = 0;
    await assertRejects(
      () => spool.store(testEnvelope({ id, recipients: ["r@x.test"] }), [BIG]),
      Error,
      "disk is full",
    );
    assertEquals(await chunksOf(spool, id), 0);
    for await (const _ of spool.kv.list({ prefix: ["partial"] })) partials++;
    assertEquals(partials, 0);
    assertEquals(await spool.get(id), null);
  } finally {
    spool.close();
  }
});

Deno.test("chunks that cannot be removed at once go after the next commit that works", async () => {
  const { spool, fail } = await failingSpool();
  try {
    const id = newMessageId();
    fail(4); // everything fails from the 4th commit: the clean-up too
    await assertRejects(
      () => spool.store(testEnvelope({ id, recipients: ["r@x.test"] }), [BIG]),
      Error,
      "disk is full",
    );
    assertEquals(await chunksOf(spool, id) > 0, true, "still there: no room to remove them");
    fail(Infinity); // room again
    await spool.store(testEnvelope({ recipients: ["r@x.test"] }), [new Uint8Array(100)]);
    assertEquals(await chunksOf(spool, id), 0);
  } finally {
    spool.close();
  }
});
