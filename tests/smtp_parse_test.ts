import { assertEquals, assertThrows } from "./helpers/assert.ts";
import {
  decodeXtext,
  encodeXtext,
  isValidHelo,
  parseCommand,
  parsePathArg,
  SmtpSyntaxError,
} from "../lib/smtp/mod.ts";

Deno.test("parseCommand splits verb and argument", () => {
  assertEquals(parseCommand("mail FROM:<a@b.c> SIZE=10"), {
    verb: "MAIL",
    arg: "FROM:<a@b.c> SIZE=10",
  });
  assertEquals(parseCommand("QUIT"), { verb: "QUIT", arg: "" });
  assertEquals(parseCommand("\u0000bad"), null);
});

Deno.test("parsePathArg reads paths, null sender, source routes and params", () => {
  assertEquals(parsePathArg("FROM:<>", "FROM", { utf8: false }).address, "");
  assertEquals(
    parsePathArg("FROM: <a@example.com> BODY=8BITMIME", "FROM", { utf8: false }).params.get("BODY"),
    "8BITMIME",
  );
  assertEquals(
    parsePathArg("TO:<@relay.example,@b.example:u@example.org>", "TO", { utf8: false }).address,
    "u@example.org",
  );
  assertEquals(
    parsePathArg('TO:<"john doe"@example.org>', "TO", { utf8: false }).address,
    '"john doe"@example.org',
  );
  assertEquals(parsePathArg("TO:<Postmaster>", "TO", { utf8: false }).address, "Postmaster");
  assertEquals(parsePathArg("TO:<u@[192.0.2.1]>", "TO", { utf8: false }).address, "u@[192.0.2.1]");
  assertEquals(
    parsePathArg("TO:<u@[IPv6:2001:db8::1]>", "TO", { utf8: false }).address,
    "u@[IPv6:2001:db8::1]",
  );
});

Deno.test("parsePathArg refuses bad syntax with the right codes", () => {
  const code = (arg: string, kw: "FROM" | "TO" = "TO") => {
    const e = assertThrows(
      () => parsePathArg(arg, kw, { utf8: false }),
      SmtpSyntaxError,
    ) as SmtpSyntaxError;
    return e.reply.summary.slice(0, 9);
  };
  assertEquals(code("TO:<>"), "501 5.1.3");
  assertEquals(code("TO:<no-at-sign>"), "501 5.1.3");
  assertEquals(code("TO:<a..b@example.org>"), "501 5.1.3");
  assertEquals(code(`TO:<${"x".repeat(65)}@example.org>`), "501 5.1.3");
  assertEquals(code("FROM:<a@-bad-.example>", "FROM"), "501 5.1.7");
  assertEquals(code("TO:<ü@example.org>"), "553 5.6.7");
  assertEquals(code("TO:<a@example.org> X=1 X=2"), "501 5.5.4");
  assertEquals(code("TO:<a@example.org"), "501 5.5.4");
  assertEquals(code("FROM<a@example.org>", "FROM"), "501 5.5.4");
});

Deno.test("xtext round-trips (RFC 3461 4)", () => {
  assertEquals(decodeXtext("a+2Bb+3Dc"), "a+b=c");
  assertEquals(decodeXtext("bad+zz"), null);
  assertEquals(encodeXtext("a+b=c é"), "a+2Bb+3Dc+20+C3+A9");
  assertEquals(decodeXtext(encodeXtext("rfc822;ü@x")), "rfc822;ü@x");
});

Deno.test("isValidHelo accepts domains and address literals", () => {
  for (const ok of ["mail.example.org", "localhost", "[192.0.2.1]", "[IPv6:::1]", "example.org."]) {
    assertEquals(isValidHelo(ok), true, ok);
  }
  for (const bad of ["", "bad name", "[999.1.1.1]", "-x.example"]) {
    assertEquals(isValidHelo(bad), false, bad);
  }
});
