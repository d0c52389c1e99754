import { assertEquals } from "./helpers/assert.ts";
import { dotStuff, parseReplyLines, ReplyReader, SmtpClientError } from "../lib/transport/mod.ts";
import { assertRejects } from "./helpers/assert.ts";

async function stuff(pieces: string[]): Promise<string> {
  const enc = new TextEncoder();
  const out: string[] = [];
  for await (
    const c of dotStuff(
      (async function* () {
        for (const p of pieces) yield enc.encode(p);
      })(),
      8,
    )
  ) out.push(new TextDecoder().decode(c));
  return out.join("");
}

Deno.test("dotStuff doubles line-start dots, also across chunk borders, and ends with CRLF.CRLF", async () => {
  assertEquals(await stuff([".a\r\nb\r\n..c\r\n"]), "..a\r\nb\r\n...c\r\n.\r\n");
  assertEquals(await stuff(["x\r\n", ".", "y\r\n"]), "x\r\n..y\r\n.\r\n");
  assertEquals(await stuff(["x\r", "\n.\r\n"]), "x\r\n..\r\n.\r\n");
  assertEquals(await stuff(["no final newline"]), "no final newline\r\n.\r\n");
  assertEquals(await stuff([]), ".\r\n");
  assertEquals(await stuff(["a.b\r\n"]), "a.b\r\n.\r\n");
});

Deno.test("parseReplyLines takes the enhanced code from the first line only when it matches", () => {
  assertEquals(parseReplyLines(550, ["5.1.1 No such user", "more"]), {
    code: 550,
    enhanced: "5.1.1",
    text: "No such user more",
    lines: ["5.1.1 No such user", "more"],
  });
  assertEquals(parseReplyLines(250, ["4.0.0 odd"]).enhanced, undefined);
  assertEquals(parseReplyLines(220, ["mx.test ESMTP"]).text, "mx.test ESMTP");
});

function streamOf(text: string) {
  const bytes = new TextEncoder().encode(text);
  let done = false;
  return {
    read(p: Uint8Array) {
      if (done) return Promise.resolve(null);
      done = true;
      p.set(bytes);
      return Promise.resolve(bytes.length);
    },
    write: () => Promise.resolve(),
    close() {},
  };
}

Deno.test("ReplyReader reads multi-line replies and rejects malformed ones", async () => {
  const r = new ReplyReader(streamOf("250-mx.test Hello\r\n250-PIPELINING\r\n250 SIZE 100\r\n"));
  const reply = await r.read(1000, "EHLO");
  assertEquals([reply.code, reply.lines], [250, ["mx.test Hello", "PIPELINING", "SIZE 100"]]);
  const bad = new ReplyReader(streamOf("250-a\r\n550 b\r\n"));
  await assertRejects(() => bad.read(1000, "EHLO"), SmtpClientError, "Malformed");
  const closed = new ReplyReader(streamOf(""));
  await assertRejects(() => closed.read(1000, "MAIL"), SmtpClientError, "closed");
});

Deno.test("dotStuff matches a line-by-line reference on random bodies and splits", async () => {
  const alphabet = ["a", ".", "\r\n", "\n", "\r", ".."];
  let seed = 42;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let round = 0; round < 300; round++) {
    let body = "";
    for (let i = rand(40); i > 0; i--) body += alphabet[rand(alphabet.length)];
    const cuts: string[] = [];
    for (let rest = body; rest.length > 0;) {
      const n = 1 + rand(rest.length);
      cuts.push(rest.slice(0, n));
      rest = rest.slice(n);
    }
    // Reference: a dot after each LF (and at the start) is doubled; CRLF added when missing.
    let ref = body.replace(/(^|\n)\./g, "$1..");
    if (body.length > 0 && !body.endsWith("\r\n")) ref += "\r\n";
    assertEquals(await stuff(cuts), ref + ".\r\n", JSON.stringify(cuts));
  }
});
