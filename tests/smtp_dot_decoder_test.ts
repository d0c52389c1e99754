import { assertEquals } from "./helpers/assert.ts";
import { DotDecoder } from "../lib/smtp/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function decode(mode: "normalize" | "reject", chunks: string[]) {
  const d = new DotDecoder(mode);
  let out = "";
  let end = -1;
  let consumed = 0;
  for (const c of chunks) {
    const bytes = enc.encode(c);
    end = d.feed(bytes, (p) => (out += dec.decode(p)));
    if (end >= 0) {
      consumed += end;
      break;
    }
    consumed += bytes.length;
  }
  return { out, end, consumed, bareLf: d.bareLf, bareCr: d.bareCr };
}

Deno.test("DotDecoder ends at CRLF.CRLF and removes dot-stuffing", () => {
  const r = decode("normalize", ["Subject: x\r\n\r\n..leading\r\n.\r\nMAIL FROM:<x>\r\n"]);
  assertEquals(r.out, "Subject: x\r\n\r\n.leading\r\n");
  assertEquals(r.consumed, "Subject: x\r\n\r\n..leading\r\n.\r\n".length);
});

Deno.test("DotDecoder ends on an immediate .CRLF (empty message)", () => {
  assertEquals(decode("normalize", [".\r\n"]).out, "");
  assertEquals(decode("normalize", [".\r\n"]).consumed, 3);
});

Deno.test("DotDecoder finds the end split byte by byte", () => {
  const msg = "a\r\n..b\r\n.\r\n";
  const r = decode("normalize", [...msg]);
  assertEquals(r.out, "a\r\n.b\r\n");
  assertEquals(r.consumed, msg.length);
});

Deno.test("DotDecoder: smuggling sequences never end DATA", () => {
  for (const smuggle of ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n", "\r\n.\r"]) {
    const r = decode("reject", [`x${smuggle}MAIL FROM:<evil@x>\r\n`]);
    assertEquals(r.end, -1, JSON.stringify(smuggle));
  }
});

Deno.test("DotDecoder normalises bare LF and bare CR to CRLF", () => {
  const r = decode("normalize", ["a\nb\rc\r\n.\r\n"]);
  assertEquals(r.out, "a\r\nb\r\nc\r\n");
  assertEquals([r.bareLf, r.bareCr], [true, true]);
});

Deno.test("DotDecoder in reject mode keeps bytes and flags bare newlines", () => {
  const r = decode("reject", ["a\nb\r\n.\r\n"]);
  assertEquals(r.out, "a\nb\r\n");
  assertEquals(r.bareLf, true);
  assertEquals(decode("reject", ["a\r\nb\r\n.\r\n"]).bareLf, false);
});

Deno.test("DotDecoder: a smuggled \\n.\\n is kept in the body in normalize mode", () => {
  const r = decode("normalize", ["x\n.\nMAIL FROM:<e@x>\r\n.\r\n"]);
  assertEquals(r.out, "x\r\n.\r\nMAIL FROM:<e@x>\r\n");
});

Deno.test("DotDecoder handles every split point of a message the same", () => {
  const msg = "H: v\r\n\r\n..x\r\n.y\r\nz\r\n.\r\n";
  const whole = decode("normalize", [msg]);
  for (let i = 1; i < msg.length; i++) {
    const r = decode("normalize", [msg.slice(0, i), msg.slice(i)]);
    assertEquals([r.out, r.consumed], [whole.out, whole.consumed], `split at ${i}`);
  }
});
