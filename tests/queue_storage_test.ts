/** The queue and storage faults: a body that does not match its envelope is never sent. */
import { testEnvelope } from "./helpers/envelope.ts";
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { Resolver } from "../lib/dns/mod.ts";
import { QueueRunner } from "../lib/queue/mod.ts";
import { DEFAULT_TRANSPORT, Router } from "../lib/router/mod.ts";
import {
  bodyDigest,
  CHUNK_SIZE,
  envelopeMutations,
  KEYS,
  type Mutation,
  Spool,
} from "../lib/spool/mod.ts";
import { newMessageId } from "../lib/envelope/mod.ts";
import { FakePeer } from "./helpers/fake_smtp_peer.ts";

interface Setup {
  spool: Spool;
  runner: QueueRunner;
  router: Router;
  lines: string[];
}

async function setup(smarthost: string, interval?: number): Promise<Setup> {
  return setupWith(await Spool.open(":memory:"), smarthost, interval);
}

function setupWith(spool: Spool, smarthost: string, interval?: number): Promise<Setup> {
  const router = Router.build({
    routes: [{ domains: ["*"], transport: "smart" }],
    transports: {
      smart: {
        ...DEFAULT_TRANSPORT,
        hosts: [smarthost],
        idle_timeout: 0,
        connect_timeout: 2000,
        command_timeout: 3000,
        data_timeout: 3000,
      },
    },
    resolver: new Resolver({ servers: ["127.0.0.1:9"], timeout: 100, attempts: 1 }),
    helo: "relay.test",
  });
  const lines: string[] = [];
  const log = {
    info: (t: string) => lines.push(t),
    warn: (t: string) => lines.push(`W ${t}`),
    error: (t: string) => lines.push(`E ${t}`),
  };
  const runner = new QueueRunner({ spool, router, hostname: "relay.test", log, interval });
  return Promise.resolve({ spool, runner, router, lines });
}

async function teardown(s: Setup): Promise<void> {
  await s.runner.stop();
  await s.router.close();
  s.spool.close();
}

/** A 4-chunk message (about 200 KB). */
async function enqueueLarge(spool: Spool): Promise<string> {
  const id = newMessageId();
  const line = "x".repeat(998) + "\r\n";
  const body = "Subject: big\r\n\r\n" + line.repeat(Math.ceil((3.5 * CHUNK_SIZE) / 1000));
  await spool.store(testEnvelope({ id, recipients: ["a@dest.test"] }), [
    new TextEncoder().encode(body),
  ]);
  return id;
}

for (
  const [what, damage] of [
    ["a chunk in the middle is missing", (s: Spool, id: string) => s.kv.delete(KEYS.body(id, 2))],
    ["the last chunk is missing", (s: Spool, id: string) => s.kv.delete(KEYS.body(id, 3))],
    ["every chunk is missing", async (s: Spool, id: string) => {
      for (let n = 0; n < 4; n++) await s.kv.delete(KEYS.body(id, n));
    }],
    ["a chunk's bytes changed", async (s: Spool, id: string) => {
      const c = (await s.kv.get<Uint8Array>(KEYS.body(id, 1))).value!;
      c[100] ^= 1;
      await s.kv.set(KEYS.body(id, 1), c);
    }],
  ] as const
) {
  Deno.test(`queue: ${what}: the message is frozen with an alert, never sent`, async () => {
    // The peer records a message only once the final dot came and it said 250.
    const peer = await FakePeer.start();
    const s = await setup(peer.address);
    try {
      const id = await enqueueLarge(s.spool);
      await damage(s.spool, id);
      await s.runner.runOnce();
      assertEquals(peer.messages.length, 0, "nothing reached the next hop");
      const env = await s.spool.get(id);
      assert(env?.frozen, "frozen");
      assertMatch(env.frozen, /does not match its envelope/);
      assert(s.lines.some((l) => l.startsWith(`E ${id} frozen: `)), s.lines.join("\n"));
      // A frozen message is not tried again, not even by a flush.
      const again = await s.runner.flush();
      assertEquals(again.messages, 0);
      assertEquals(peer.messages.length, 0);
    } finally {
      await teardown(s);
      await peer.close();
    }
  });
}

Deno.test("Spool.body throws rather than end early when chunks are missing", async () => {
  const spool = await Spool.open(":memory:");
  try {
    const id = await enqueueLarge(spool);
    assertEquals((await spool.readBody(id)).length, (await spool.get(id))!.size);
    await spool.kv.delete(KEYS.body(id, 3));
    let err: Error | null = null;
    await spool.readBody(id).catch((e) => err = e);
    assertMatch(String(err), /BodyMismatchError: .*found 3 chunk\(s\)/);
  } finally {
    spool.close();
  }
});

Deno.test("queue: when the commit recording a delivery fails, the message is not sent again", async () => {
  const peer = await FakePeer.start();
  // Full passes over the spool every 300 ms: each would send the messages again if their
  // "delivered" were only in the spool.
  const s = await setup(peer.address, 300);
  // The disk is full: every commit fails until it has room again (a real ENOSPC from SQLite
  // is what Deno KV reports; here the commit itself is made to fail).
  let full = false;
  let refused = 0;
  const commit = s.spool.commit.bind(s.spool);
  s.spool.commit = (m) =>
    full ? (refused++, Promise.reject(new Error("database or disk is full"))) : commit(m);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueueLarge(s.spool));
    full = true;
    s.runner.start();
    await until(() => peer.messages.length === 3 && refused >= 3);
    const later = await enqueueSmall(commit); // arrives while commits fail
    s.runner.notify(later);
    // Several retry rounds: the commit is tried again, the delivery is not.
    await until(() => refused >= 9, 10_000);
    assertEquals(peer.messages.length, 3, "each message was sent once");
    assertEquals(
      s.lines.filter((l) => /cannot record delivery outcomes/.test(l)).length,
      1,
      "said once per state change",
    );
    assert(
      s.lines.some((l) => l.startsWith("E cannot record delivery outcomes")),
      s.lines.join("\n"),
    );
    full = false;
    await until(
      async () => (await s.spool.get(ids[2])) === null && (await s.spool.get(later)) === null,
      10_000,
    );
    for (const id of ids) assertEquals(await s.spool.get(id), null);
    assertEquals(peer.messages.length, 4, "the three once, then the new one");
    assert(s.lines.some((l) => /spool commits work again/.test(l)), s.lines.join("\n"));
  } finally {
    await teardown(s);
    await peer.close();
  }
});

/** Stores a small message through `commit` (the real one, past the simulated full disk). */
async function enqueueSmall(commit: (m: Mutation[]) => Promise<void>): Promise<string> {
  const id = newMessageId();
  const env = testEnvelope({ id, recipients: ["b@dest.test"] });
  const body = new TextEncoder().encode("Subject: later\r\n\r\nhi\r\n");
  env.chunks = 1;
  env.size = body.length;
  env.bodySha256 = bodyDigest([body]);
  await commit([
    { key: KEYS.body(id, 0), value: body, bytes: body.length + 64 },
    ...envelopeMutations(env),
  ]);
  return id;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in time: ${cond}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test({
  name: "queue on a real full filesystem (tmpfs): each message is sent once, recorded later",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-fulldisk-" });
    await mount(dir, "8m");
    const peer = await FakePeer.start();
    let s: Setup | null = null;
    try {
      const spool = await Spool.open(dir);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const id = newMessageId();
        await spool.store(testEnvelope({ id, recipients: [`r${i}@dest.test`] }), [
          new TextEncoder().encode(`Subject: ${i}\r\n\r\n${"y".repeat(4000)}\r\n`),
        ]);
        ids.push(id);
      }
      // The spool fills its own filesystem: not one byte left.
      const filler = await Deno.open(`${dir}/filler`, { write: true, create: true });
      try {
        for (;;) await filler.write(new Uint8Array(64 * 1024));
      } catch { /* ENOSPC */ }
      try {
        for (;;) await filler.write(new Uint8Array(512));
      } catch { /* really full */ }
      filler.close();
      s = await setupWith(spool, peer.address, 300);
      s.runner.start();
      await until(() => peer.messages.length >= ids.length, 10_000);
      await new Promise((r) => setTimeout(r, 2000)); // several passes while full
      assertEquals(peer.messages.length, ids.length, "each message sent once while full");
      assert(s.lines.some((l) => /cannot record delivery outcomes/.test(l)), s.lines.join("\n"));
      const control = s.lines.filter((l) => /queue control error/.test(l)).length;
      assert(control <= 1, `control errors said once, not every second: ${control}`);
      await Deno.remove(`${dir}/filler`);
      await until(async () => {
        for (const id of ids) if (await spool.get(id)) return false;
        return true;
      }, 10_000);
      assertEquals(peer.messages.length, ids.length, "and not again once recorded");
    } finally {
      if (s) await teardown(s);
      await peer.close();
      await umount(dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function mount(dir: string, size: string): Promise<void> {
  await sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
}

async function umount(dir: string): Promise<void> {
  await sh("umount", [dir]);
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (needs root, Debian package mount): ${
        new TextDecoder().decode(r.stderr)
      }`,
    );
  }
}
