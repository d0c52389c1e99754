import {
  decodeEnvelope,
  encodeEnvelope,
  ENVELOPE_VERSION,
  EnvelopeFormatError,
} from "../lib/envelope/mod.ts";
import { Spool, SpoolError } from "../lib/spool/mod.ts";
import { assertEquals, assertRejects, assertThrows } from "./helpers/assert.ts";
import { testEnvelope } from "./helpers/envelope.ts";

Deno.test("envelope codec: an encoded envelope carries the version and decodes to the same", () => {
  const e = testEnvelope({ recipients: ["r@example.test"] });
  const enc = encodeEnvelope(e);
  assertEquals(enc.v, ENVELOPE_VERSION);
  assertEquals(decodeEnvelope(JSON.parse(JSON.stringify(enc)), "test"), e);
});

Deno.test("envelope codec: an envelope written before versioning (no v) is read", () => {
  const e = testEnvelope({ recipients: ["r@example.test"] });
  assertEquals(decodeEnvelope({ ...e }, "test"), e);
});

Deno.test("envelope codec: a newer version is refused with a clear error", () => {
  const err = assertThrows(
    () =>
      decodeEnvelope({
        ...testEnvelope({ recipients: ["r@example.test"] }),
        v: ENVELOPE_VERSION + 1,
      }, "file 01X.json"),
    EnvelopeFormatError,
  );
  assertEquals(
    err.message,
    `file 01X.json: envelope version ${
      ENVELOPE_VERSION + 1
    } is newer than this relay reads (${ENVELOPE_VERSION}); upgrade the relay`,
  );
});

Deno.test("envelope codec: a wrong field is named", () => {
  const bad = {
    ...testEnvelope({ recipients: ["r@example.test"] }),
    recipients: [{ address: "a@b.example", status: "sent" }],
  };
  const err = assertThrows(() => decodeEnvelope(bad, "x"), EnvelopeFormatError);
  assertEquals(err.message.startsWith("x: envelope field recipients.0.status:"), true);
});

Deno.test("spool: a stored envelope of a newer version is refused when read, naming the message", async () => {
  const spool = await Spool.open(":memory:");
  try {
    const e = testEnvelope({ recipients: ["r@example.test"] });
    await spool.kv.set(["msg", e.id], { ...e, v: 99 });
    // The spool names its file around the codec's error.
    const err = await assertRejects(() => spool.get(e.id), SpoolError, `spool message ${e.id}`);
    assertEquals(err.message.includes("newer than this relay reads"), true, err.message);
  } finally {
    spool.close();
  }
});
