import { assert, assertEquals } from "./helpers/assert.ts";
import { buildDsn, sanitize, statusOf, wantsNotice } from "../lib/bounce/mod.ts";
import { PYTHON3, requireProgram } from "./helpers/requirements.ts";
import type { Envelope, Recipient } from "../lib/envelope/mod.ts";

const env: Envelope = {
  id: "01KAR5Q3ZB0004F7Q",
  sender: "alice@origin.test",
  recipients: [],
  dsn: { envid: "QQ314159", ret: "FULL" },
  bodyType: "7BIT",
  smtputf8: false,
  client: { ip: "127.0.0.1", port: 1, helo: "client.test" },
  protocol: "esmtp",
  listener: "127.0.0.1:2525",
  received: Date.UTC(2026, 10, 23, 10, 0, 0),
  size: 0,
  chunks: 1,
};

const ORIGINAL = "From: alice@origin.test\r\nSubject: Lunch\r\n\r\nSee you at noon.\r\n";

const rcpt = (address: string, extra: Partial<Recipient> = {}): Recipient => ({
  address,
  status: "failed",
  attempts: 1,
  nextAttempt: 0,
  ...extra,
});

/** Parses a message with Python's email package and returns what a DSN reader looks at. */
async function parseWithPython(raw: Uint8Array): Promise<Record<string, unknown>> {
  const script = `
import email, json, sys
from email import policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
parts = msg.get_payload()
status = parts[1]
blocks = status.get_payload()
out = {
  "content_type": msg.get_content_type(),
  "report_type": msg.get_param("report-type"),
  "to": msg["To"], "from": msg["From"], "subject": msg["Subject"],
  "auto": msg["Auto-Submitted"],
  "parts": [p.get_content_type() for p in parts],
  "per_message": dict(blocks[0].items()),
  "recipients": [dict(b.items()) for b in blocks[1:]],
  "returned_subject": parts[2].get_payload()[0]["Subject"] if parts[2].get_content_type() == "message/rfc822" else None,
  "defects": [str(d) for d in msg.defects],
}
print(json.dumps(out))
`;
  const p = new Deno.Command(requireProgram(PYTHON3, "python3"), {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(raw);
  await w.close();
  const out = await p.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("bounce parses as an RFC 3464 DSN with Exim's DSN_INFO fields (python email)", async () => {
  const { envelope, body } = buildDsn({
    envelope: env,
    action: "failed",
    hostname: "relay.test",
    original: new TextEncoder().encode(ORIGINAL),
    now: new Date(Date.UTC(2026, 10, 23, 11, 0, 0)),
    recipients: [
      {
        recipient: rcpt("bob@dest.test", { orcpt: "rfc822;Bob@Dest.test" }),
        result: {
          address: "bob@dest.test",
          status: "failed",
          reply: { code: 550, enhanced: "5.1.1", text: "<bob@dest.test>: No such user" },
          diagnostic:
            "SMTP error from remote mail server after RCPT TO:<bob@dest.test>: 550 5.1.1 No such user",
          remote: {
            host: "mx.dest.test",
            ip: "192.0.2.25",
            port: 2525,
            greeting: "220 mx.dest.test ESMTP\r\nInjected: yes",
            heloResponse: "250 mx.dest.test Hello",
          },
        },
      },
      {
        recipient: rcpt("carol@null.test"),
        result: {
          address: "carol@null.test",
          status: "failed",
          diagnostic: "Cannot deliver to null.test: domain does not accept mail (null MX)",
        },
      },
    ],
  });
  assertEquals(envelope.sender, "");
  assertEquals(envelope.recipients.map((r) => r.address), ["alice@origin.test"]);
  const dsn = await parseWithPython(body);
  assertEquals(dsn.content_type, "multipart/report");
  assertEquals(dsn.report_type, "delivery-status");
  assertEquals(dsn.parts, ["text/plain", "message/delivery-status", "message/rfc822"]);
  assertEquals(dsn.to, "<alice@origin.test>");
  assertEquals(dsn.auto, "auto-replied");
  assertEquals(dsn.defects, []);
  assertEquals(dsn.returned_subject, "Lunch");
  const perMessage = dsn.per_message as Record<string, string>;
  assertEquals(perMessage["Reporting-MTA"], "dns; relay.test");
  assertEquals(perMessage["Original-Envelope-Id"], "QQ314159");
  const [bob, carol] = dsn.recipients as Record<string, string>[];
  assertEquals(bob["Final-Recipient"], "rfc822;bob@dest.test");
  assertEquals(bob["Original-Recipient"], "rfc822;Bob@Dest.test");
  assertEquals(bob["Action"], "failed");
  assertEquals(bob["Status"], "5.1.1");
  assertEquals(bob["Remote-MTA"], "X-ip; [192.0.2.25]:2525");
  assertEquals(bob["X-Remote-MTA-smtp-greeting"], "X-str; 220 mx.dest.test ESMTP Injected: yes");
  assertEquals(bob["X-Remote-MTA-helo-response"], "X-str; 250 mx.dest.test Hello");
  assertEquals(bob["Diagnostic-Code"], "smtp; 550 5.1.1 <bob@dest.test>: No such user");
  assert(bob["X-Relay-Diagnostic"].startsWith("X-str; SMTP error from remote mail server"));
  assert(!("Injected" in bob));
  assertEquals(carol["Status"], "5.1.10");
  assertEquals(carol["Remote-MTA"], undefined);
});

Deno.test("bounce with RET=HDRS returns only the headers", async () => {
  const { body } = buildDsn({
    envelope: { ...env, dsn: { ret: "HDRS" } },
    action: "failed",
    hostname: "relay.test",
    original: new TextEncoder().encode(ORIGINAL),
    recipients: [{
      recipient: rcpt("bob@dest.test"),
      result: { address: "bob@dest.test", status: "failed", diagnostic: "No" },
    }],
  });
  const dsn = await parseWithPython(body);
  assertEquals(dsn.parts, ["text/plain", "message/delivery-status", "text/rfc822-headers"]);
  assert(!new TextDecoder().decode(body).includes("See you at noon."));
});

Deno.test("who gets notices: never the null sender, NOTIFY honoured, default FAILURE+DELAY", () => {
  assert(wantsNotice(env, rcpt("a@x.test"), "failed"));
  assert(wantsNotice(env, rcpt("a@x.test"), "delayed"));
  assert(!wantsNotice({ ...env, sender: "" }, rcpt("a@x.test"), "failed"));
  assert(!wantsNotice(env, rcpt("a@x.test", { notify: ["NEVER"] }), "failed"));
  assert(wantsNotice(env, rcpt("a@x.test", { notify: ["FAILURE"] }), "failed"));
  assert(!wantsNotice(env, rcpt("a@x.test", { notify: ["FAILURE"] }), "delayed"));
  assert(!wantsNotice(env, rcpt("a@x.test", { notify: ["SUCCESS"] }), "failed"));
});

Deno.test("sanitize strips CR/LF and controls; statusOf maps replies and failures", () => {
  assertEquals(sanitize("a\r\nB: c\x00d\u00e9"), "a B: c?d?");
  assertEquals(
    statusOf(
      { address: "", status: "failed", diagnostic: "", reply: { code: 550, text: "" } },
      "failed",
    ),
    "5.0.0",
  );
  assertEquals(
    statusOf({
      address: "",
      status: "deferred",
      diagnostic: "",
      reply: { code: 451, enhanced: "4.3.0", text: "" },
    }, "delayed"),
    "4.3.0",
  );
});

Deno.test("a success notice (Action: relayed) parses as a DSN with headers only", async () => {
  const { body } = buildDsn({
    envelope: env,
    action: "relayed",
    hostname: "relay.test",
    original: new TextEncoder().encode(ORIGINAL),
    recipients: [{
      recipient: rcpt("bob@dest.test", { notify: ["SUCCESS"] }),
      result: {
        address: "bob@dest.test",
        status: "delivered",
        reply: { code: 250, enhanced: "2.0.0", text: "Ok queued" },
        diagnostic: "250 2.0.0 Ok queued",
        remote: { host: "mx.dest.test", ip: "192.0.2.25", port: 25, dsn: false },
      },
    }],
  });
  const dsn = await parseWithPython(body);
  assertEquals(dsn.parts, ["text/plain", "message/delivery-status", "text/rfc822-headers"]);
  const [bob] = dsn.recipients as Record<string, string>[];
  assertEquals([bob["Action"], bob["Status"]], ["relayed", "2.0.0"]);
  assertEquals(bob["Remote-MTA"], "X-ip; [192.0.2.25]");
  assert(wantsNotice(env, rcpt("a@x.test", { notify: ["SUCCESS"] }), "relayed"));
  assert(!wantsNotice(env, rcpt("a@x.test"), "relayed"));
});
