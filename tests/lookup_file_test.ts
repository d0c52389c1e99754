import { FileLookup, LookupError } from "../lib/lookup/mod.ts";
import { assertEquals, assertRejects } from "./helpers/assert.ts";

async function table(text: string, mode?: "exact" | "wildcard" | "ip") {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/table`;
  await Deno.writeTextFile(path, text);
  const lookup = await FileLookup.open({ name: "t", path, mode, checkInterval: 0 });
  return { lookup, path, cleanup: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("file lookup reads lsearch lines: colons, spaces, comments, continuations", async () => {
  const { lookup, cleanup } = await table(
    "# comment\n\nexample.org: relay\nspaced.org   value with  spaces\nbare.org\n" +
      "long.org: first\n  second line\nUPPER.ORG: up\n",
    "exact",
  );
  try {
    assertEquals(await lookup.get("example.org"), "relay");
    assertEquals(await lookup.get("spaced.org"), "value with  spaces");
    assertEquals(await lookup.get("bare.org"), "");
    assertEquals(await lookup.get("long.org"), "first second line");
    assertEquals(await lookup.get("upper.org"), "up");
    assertEquals(await lookup.get("Example.ORG"), "relay");
    assertEquals(await lookup.get("# comment"), null);
    assertEquals(await lookup.members("long.org"), ["first second line"]);
  } finally {
    await cleanup();
  }
});

Deno.test("file lookup wildcard mode: exact first, then longest *.suffix, then *", async () => {
  const { lookup, cleanup } = await table(
    "a.example.org: exact\n*.example.org: sub\n*.deep.example.org: deeper\n",
    "wildcard",
  );
  try {
    assertEquals(await lookup.get("a.example.org"), "exact");
    assertEquals(await lookup.get("b.example.org"), "sub");
    assertEquals(await lookup.get("x.deep.example.org"), "deeper");
    assertEquals(await lookup.get("example.org"), null);
    assertEquals(await lookup.get("example.net"), null);
  } finally {
    await cleanup();
  }
  const withStar = await table("*.example.org: sub\n*: default\n");
  try {
    assertEquals(await withStar.lookup.get("example.net"), "default");
    assertEquals(await withStar.lookup.get("b.example.org"), "sub");
  } finally {
    await withStar.cleanup();
  }
});

Deno.test("file lookup exact mode treats * keys literally", async () => {
  const { lookup, cleanup } = await table("*.example.org: sub\n", "exact");
  try {
    assertEquals(await lookup.get("b.example.org"), null);
    assertEquals(await lookup.get("*.example.org"), "sub");
  } finally {
    await cleanup();
  }
});

Deno.test("file lookup ip mode: first matching network in file order, v4 and v6", async () => {
  const { lookup, cleanup } = await table(
    "192.0.2.1: host\n192.0.2.0/24: net\n10.0.0.0/8: private\n2001:db8::/32: v6\n",
    "ip",
  );
  try {
    assertEquals(await lookup.get("192.0.2.1"), "host");
    assertEquals(await lookup.get("192.0.2.77"), "net");
    assertEquals(await lookup.get("::ffff:10.1.2.3"), "private");
    assertEquals(await lookup.get("2001:db8::25"), "v6");
    assertEquals(await lookup.get("198.51.100.1"), null);
    assertEquals(await lookup.get("not an ip"), null);
  } finally {
    await cleanup();
  }
});

Deno.test("file lookup ip mode refuses a bad network naming the line", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/t`, "192.0.2.0/24: ok\n300.1.1.1: bad\n");
  await assertRejects(
    () => FileLookup.open({ name: "nets", path: `${dir}/t`, mode: "ip" }),
    LookupError,
    "line 2",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file lookup reloads when the file changes and keeps old data if it vanishes", async () => {
  const { lookup, path, cleanup } = await table("a.org: one\n");
  try {
    assertEquals(await lookup.get("a.org"), "one");
    await Deno.writeTextFile(path + ".new", "a.org: two\nb.org: new\n");
    await Deno.rename(path + ".new", path);
    assertEquals(await lookup.get("a.org"), "two");
    assertEquals(await lookup.get("b.org"), "new");
    await Deno.remove(path);
    assertEquals(await lookup.get("a.org"), "two");
  } finally {
    await cleanup();
  }
});

Deno.test("file lookup checks the mtime at most once per interval", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/t`;
  await Deno.writeTextFile(path, "a.org: one\n");
  const lookup = await FileLookup.open({ name: "t", path, checkInterval: 60_000 });
  await Deno.writeTextFile(path, "a.org: changed\n");
  assertEquals(await lookup.get("a.org"), "one");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file lookup names the table and path when the file is missing", async () => {
  await assertRejects(
    () => FileLookup.open({ name: "relay_domains", path: "/nonexistent/domains" }),
    LookupError,
    "Cannot read lookup relay_domains file /nonexistent/domains",
  );
});
