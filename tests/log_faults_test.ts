/** A log that cannot be written (a full filesystem) never ends the process. */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { RUN_FLAGS, testConfigText } from "./helpers/relay.ts";
import { swaks } from "./helpers/clients.ts";
import { Logger } from "../lib/log/mod.ts";

Deno.test("Logger drops and counts lines it cannot write (/dev/full: ENOSPC)", () => {
  const log = new Logger({ format: "text", level: "info", file: "/dev/full" });
  for (let i = 0; i < 100; i++) log.info(`line ${i}`);
  log.warn("a warning");
  assertEquals(log.dropped, 101);
  log.close();
});

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitListening(port: number, child: Deno.ChildProcess): Promise<void> {
  const until = Date.now() + 20_000;
  let exited = false;
  child.status.then(() => exited = true);
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (exited || Date.now() > until) throw new Error("relay did not start listening");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

Deno.test({
  name: "serve with its log on a full filesystem keeps accepting mail and says so once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "relay-logfull-" });
    // A real full filesystem for the log: a small tmpfs, filled up (root, as CI runs).
    const logDir = `${dir}/log`;
    await Deno.mkdir(logDir);
    await run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", logDir]);
    try {
      const logFile = `${logDir}/main.log`;
      await Deno.writeTextFile(logFile, "");
      await Deno.writeFile(`${logDir}/filler`, new Uint8Array(64 * 1024)).catch(() => {});
      const port = freePort();
      const config = `${dir}/relay.toml`;
      await Deno.writeTextFile(
        config,
        testConfigText(`[queue]\ndeliver = false\n`, {
          server: { spool: `${dir}/spool`, local_domains: ["example.org"] },
          listen: [{ address: `127.0.0.1:${port}` }],
          log: { level: "info", file: logFile },
        }),
      );
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          ...RUN_FLAGS,
          new URL("../main.ts", import.meta.url).pathname,
          "serve",
          "-c",
          config,
        ],
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).spawn();
      try {
        await waitListening(port, child).catch(async (e) => {
          const o = await child.output();
          throw new Error(`${e.message}: ${new TextDecoder().decode(o.stderr)}`);
        });
        for (let i = 0; i < 3; i++) {
          const r = await swaks(port, ["--to", "r@example.org", "--from", "s@example.com"]);
          assertEquals(r.code, 0, r.stdout + r.stderr);
          assertMatch(r.stdout, /<- {2}250 .*queued as/);
        }
      } finally {
        try {
          child.kill("SIGTERM");
        } catch { /* exited: the output says why */ }
      }
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 0, stderr);
      assertNoCrash(stderr);
      assertEquals(stderr.match(/cannot write the log/g)?.length, 1, stderr);
    } finally {
      await run("umount", [logDir]);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

async function run(cmd: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (this test needs root for a tmpfs): ${
        new TextDecoder().decode(r.stderr)
      }`,
    );
  }
}

function assertNoCrash(stderr: string): void {
  assert(!/Uncaught|No space left on device\)?\n\s+at /.test(stderr), stderr);
}
