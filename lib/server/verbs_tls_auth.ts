import { type Reply, reply } from "../smtp/mod.ts";
import { decodeBase64, decodePlain, type SaslResult } from "../auth/mod.ts";
import { type TlsError, type TlsSessionInfo, upgradeServer } from "../tls/mod.ts";
import { NO_REPLY, type Session } from "./session.ts";
import { authAvailable, starttlsAvailable } from "./verbs_basic.ts";
import { LINE_TOO_LONG } from "./input.ts";

/** STARTTLS (RFC 3207 4): 220, then the handshake; all SMTP state is reset after it. */
export async function STARTTLS(s: Session, arg: string): Promise<Reply> {
  if (arg.trim()) return reply(501, "5.5.4", "Syntax: STARTTLS");
  if (s.tls) return reply(503, "5.5.1", "TLS already active");
  if (!starttlsAvailable(s) || !s.esmtp) return reply(502, "5.5.1", "STARTTLS not available");
  // CVE-2011-0411: whatever the client pipelined behind STARTTLS in the clear is dropped.
  const dropped = s.input.discard();
  if (dropped > 0) {
    s.deps.log.info(`${s.hostText} sent ${dropped} bytes after STARTTLS; discarded`, {
      event: "starttls_injection",
      ip: s.peer.ip,
    });
  }
  s.send(reply(220, "2.0.0", "Ready to start TLS"));
  await s.flush();
  let tlsInfo: TlsSessionInfo;
  try {
    const { stream, info } = await upgradeServer(
      s.conn!,
      s.deps.tls!,
      s.config.smtp.command_timeout,
    );
    s.stream = stream;
    s.input.replaceStream(stream);
    s.tls = info;
    tlsInfo = info;
  } catch (e) {
    s.deps.log.info(`TLS error on connection from ${s.hostText}: ${(e as TlsError).message}`, {
      event: "tls_error",
      ip: s.peer.ip,
    });
    // Mid-handshake there is no channel left to answer on: just close.
    s.close();
    return NO_REPLY;
  }
  // RFC 3207 4.2: forget everything learned before TLS, including EHLO.
  s.helo = null;
  s.esmtp = false;
  s.tx?.body?.drop();
  s.tx = null;
  s.pendingHeaders = [];
  s.authUser = null;
  s.policy.reset();
  s.policy.setTls({ version: tlsInfo.version, cipher: tlsInfo.cipher, sni: tlsInfo.sni ?? "" });
  s.deps.log.debug(`TLS started with ${s.hostText}: ${s.tls.version} ${s.tls.cipher}`);
  return NO_REPLY;
}

/** Reads one SASL response line from the client, or null if it went away. */
async function readResponse(s: Session): Promise<string | null> {
  for (;;) {
    const line = s.input.takeLine(12 * 1024);
    if (line === LINE_TOO_LONG) return "";
    if (line) return new TextDecoder().decode(line.bytes).trim();
    if ((await s.input.fill(s.config.smtp.command_timeout)) !== "data") {
      s.close();
      return null;
    }
  }
}

async function challenge(s: Session, text: string): Promise<string | null> {
  s.send(reply(334, null, text));
  await s.flush();
  return await readResponse(s);
}

async function saslLogin(s: Session, initial: string | undefined): Promise<SaslResult | null> {
  const userB64 = initial ?? await challenge(s, "VXNlcm5hbWU6"); // "Username:"
  if (userB64 === null) return null;
  if (userB64 === "*") return { error: "cancelled" };
  const user = decodeBase64(userB64);
  if (!user) return { error: "Invalid base64 data" };
  const passB64 = await challenge(s, "UGFzc3dvcmQ6"); // "Password:"
  if (passB64 === null) return null;
  if (passB64 === "*") return { error: "cancelled" };
  const password = decodeBase64(passB64);
  if (password === null) return { error: "Invalid base64 data" };
  return { user, password };
}

async function saslPlain(s: Session, initial: string | undefined): Promise<SaslResult | null> {
  const response = initial ?? await challenge(s, "");
  if (response === null) return null;
  if (response === "*") return { error: "cancelled" };
  return decodePlain(response === "=" ? "" : response);
}

/** AUTH (RFC 4954 4): PLAIN or LOGIN against the credentials file. */
export async function AUTH(s: Session, arg: string): Promise<Reply> {
  const [mechRaw, initial, extra] = arg.trim().split(/\s+/);
  const mech = (mechRaw ?? "").toUpperCase();
  if (!mech || extra !== undefined) {
    return reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
  }
  if (!s.esmtp) return reply(503, "5.5.1", "AUTH needs EHLO");
  if (s.authUser) return reply(503, "5.5.1", "Already authenticated");
  if (s.tx) return reply(503, "5.5.1", "AUTH not allowed during a mail transaction");
  if (!s.deps.credentials || !s.deps.listener.auth) {
    return reply(502, "5.5.1", "AUTH not available");
  }
  if (!authAvailable(s)) {
    return reply(538, "5.7.11", "Encryption required for requested authentication mechanism");
  }
  if (!s.config.auth.mechanisms.includes(mech as "PLAIN" | "LOGIN")) {
    return reply(504, "5.5.4", "Unrecognized authentication mechanism");
  }
  if (s.deps.authLimiter.blocked(s.peer.ip)) {
    const r = reply(454, "4.7.0", "Too many authentication failures; try again later");
    s.logReject(`AUTH ${mech}`, r);
    return r.closing();
  }
  const result = mech === "PLAIN" ? await saslPlain(s, initial) : await saslLogin(s, initial);
  if (result === null) return NO_REPLY;
  if ("error" in result) {
    return result.error === "cancelled"
      ? reply(501, "5.0.0", "Authentication cancelled")
      : reply(501, "5.5.2", result.error);
  }
  if (await s.deps.credentials.verify(result.user, result.password)) {
    s.authUser = result.user;
    s.authMechanism = mech;
    s.policy.setAuth(result.user);
    s.deps.log.debug(`${s.hostText} authenticated as ${result.user} (${mech})`);
    return reply(235, "2.7.0", "Authentication successful");
  }
  s.authFailures++;
  s.deps.authLimiter.fail(s.peer.ip);
  s.deps.log.info(
    `${mech.toLowerCase()} authenticator failed for ${s.hostText}: 535 Incorrect authentication data (set_id=${
      JSON.stringify(result.user.slice(0, 64))
    })`,
    { event: "auth_failed", ip: s.peer.ip, user: result.user.slice(0, 64) },
  );
  await new Promise((r) => setTimeout(r, s.config.auth.failure_delay));
  const r = reply(535, "5.7.8", "Authentication credentials invalid");
  return s.authFailures >= s.config.auth.max_failures ? r.closing() : r;
}
