/** `[server] user`: started as root, the relay binds its ports and then runs as that user. */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { spawnRelay } from "./helpers/relay.ts";
import { swaks } from "./helpers/clients.ts";

/** A free port below 1024 on 127.0.0.1 (binding it needs root). */
function lowPort(): number {
  for (let port = 990; port > 900; port--) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken */ }
  }
  throw new Error("no free port below 1024 on 127.0.0.1");
}

async function uidOf(name: string): Promise<number> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  const line = passwd.split("\n").find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name} in /etc/passwd (Debian has nobody)`);
  return Number(line.split(":")[2]);
}

Deno.test({
  name: "serve as root with [server] user binds a port below 1024, then runs as that user",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    assertEquals(Deno.uid(), 0, "this test runs as root (as CI does)");
    const nobody = await uidOf("nobody");
    const dir = await Deno.makeTempDir({ prefix: "relay-user-" });
    await Deno.chmod(dir, 0o755); // the new user must reach its spool inside
    const port = lowPort();
    const relay = await spawnRelay(
      dir,
      `[server]\nuser = "nobody"\nlocal_domains = ["example.org"]\n[queue]\ndeliver = false\n` +
        `[[listen]]\naddress = "127.0.0.1:${port}"\n`,
    );
    try {
      assertEquals(relay.port, port);
      const until = Date.now() + 10_000;
      while (!relay.lines.some((l) => l.includes(`running as uid ${nobody}`))) {
        if (Date.now() > until) throw new Error(`no "running as" line:\n${relay.lines.join("\n")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Every thread of the process changed user, not only the one that called setuid.
      for await (const t of Deno.readDir(`/proc/${relay.child.pid}/task`)) {
        const status = await Deno.readTextFile(`/proc/${relay.child.pid}/task/${t.name}/status`);
        assertMatch(
          status,
          new RegExp(`\\nUid:\\t${nobody}\\t${nobody}\\t${nobody}\\t${nobody}\\n`),
        );
      }
      // The spool is still writable by it: mail is accepted (committed) after the switch.
      for (let i = 0; i < 3; i++) {
        const r = await swaks(port, ["--to", "r@example.org", "--from", "s@example.com"]);
        assertMatch(r.stdout, /<- {2}250 .*queued as/, r.stdout + r.stderr);
      }
      for (const f of ["", "/spool.kv", "/spool.kv-wal", "/spool.lock"]) {
        assertEquals((await Deno.stat(`${dir}/spool${f}`)).uid, nobody, f);
      }
    } finally {
      await relay.stop();
    }
    await Deno.remove(dir, { recursive: true });
  },
});
