import { createHmac } from "node:crypto";
import { SrsError } from "./errors.ts";

// The Sender Rewriting Scheme as in Shevek's paper and libsrs2 ("guarded" scheme):
//   SRS0=HHHH=TT=orig-domain=orig-local@forwarder
//   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@forwarder

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const TICK_SLOTS = 1024; // two base32 characters of days
const DAY_MS = 86_400_000;
const HASH_LENGTH = 4;

/** Options shared by {@linkcode srsForward} and {@linkcode srsReverse}. */
export interface SrsOptions {
  /** The current time (default now); for tests. */
  now?: Date;
}

/**
 * Rewrites an envelope sender for forwarding: `local@domain` becomes
 * `SRS0=HHHH=TT=domain=local@ourDomain`, and an SRS0/SRS1 address of another forwarder becomes
 * SRS1 so that bounces go back through it. The null sender and our own addresses stay as they are.
 *
 * @param sender The MAIL FROM address (empty for the null sender).
 * @param ourDomain The domain bounces should come back to.
 * @param secrets Keys for the hash; the first one signs.
 * @returns The address to use as MAIL FROM when forwarding.
 * @throws {SrsError} When there is no secret or the sender has no domain.
 * @example Usage
 * ```ts
 * srsForward("alice@example.org", "fwd.example.net", ["s3cret"]);
 * // "SRS0=xY1z=AB=example.org=alice@fwd.example.net"
 * ```
 */
export function srsForward(
  sender: string,
  ourDomain: string,
  secrets: readonly string[],
  opts: SrsOptions = {},
): string {
  if (sender === "") return "";
  const key = firstSecret(secrets);
  const at = sender.lastIndexOf("@");
  if (at <= 0) throw new SrsError("syntax", `Cannot rewrite ${sender}: no domain`);
  const local = sender.slice(0, at);
  const domain = sender.slice(at + 1);
  if (domain.toLowerCase() === ourDomain.toLowerCase()) return sender;
  const srs1 = /^SRS1[=+-]([^=]+)=([^=]+)=(=.*)$/i.exec(local);
  if (srs1) { // already SRS1 elsewhere: keep the first forwarder, sign anew
    const [, , first, rest] = srs1;
    return `SRS1=${hash(key, first, rest)}=${first}=${rest}@${ourDomain}`;
  }
  const srs0 = /^SRS0([=+-].*)$/i.exec(local);
  if (srs0) { // SRS0 of another forwarder: it is the one to bounce to
    const rest = "=" + srs0[1].slice(1);
    return `SRS1=${hash(key, domain, rest)}=${domain}=${rest}@${ourDomain}`;
  }
  const tt = timestamp(opts.now ?? new Date());
  return `SRS0=${hash(key, tt, domain, local)}=${tt}=${domain}=${local}@${ourDomain}`;
}

/**
 * Reverses an SRS address from a bounce: SRS0 gives the original sender, SRS1 the SRS0
 * address at the first forwarder. Any of `secrets` may have made the hash.
 *
 * @param address The recipient of the bounce.
 * @param secrets Keys accepted (current and previous).
 * @param maxAgeDays How old (in days) an SRS0 address may be (default 21).
 * @returns The address to send the bounce to.
 * @throws {SrsError} `syntax` (not SRS), `forged` (bad hash) or `expired` (too old).
 * @example Usage
 * ```ts
 * srsReverse("SRS0=xY1z=AB=example.org=alice@fwd.example.net", ["s3cret"]); // "alice@example.org"
 * ```
 */
export function srsReverse(
  address: string,
  secrets: readonly string[],
  maxAgeDays = 21,
  opts: SrsOptions = {},
): string {
  firstSecret(secrets);
  const at = address.lastIndexOf("@");
  const local = at < 0 ? address : address.slice(0, at);
  const srs1 = /^SRS1[=+-]([^=]+)=([^=]+)=(=.*)$/i.exec(local);
  if (srs1) {
    const [, given, first, rest] = srs1;
    checkHash(address, given, secrets, first, rest);
    return `SRS0${rest}@${first}`;
  }
  const srs0 = /^SRS0[=+-]([^=]+)=([^=]{2})=([^=]+)=(.+)$/i.exec(local);
  if (!srs0) throw new SrsError("syntax", `Cannot reverse ${address}: not an SRS address`);
  const [, given, tt, domain, orig] = srs0;
  checkHash(address, given, secrets, tt, domain, orig);
  checkAge(address, tt, maxAgeDays, opts.now ?? new Date());
  return `${orig}@${domain}`;
}

/** True when the local part has an SRS0 or SRS1 prefix. */
export function isSrs(address: string): boolean {
  return /^SRS[01][=+-]/i.test(address);
}

function firstSecret(secrets: readonly string[]): string {
  const key = secrets.find((s) => s.length > 0);
  if (!key) throw new SrsError("syntax", "Cannot use SRS: no secret configured");
  return key;
}

/** Days since the epoch modulo 1024, as two base32 characters. */
function timestamp(now: Date): string {
  const days = Math.floor(now.getTime() / DAY_MS) % TICK_SLOTS;
  return BASE32[days >> 5] + BASE32[days & 31];
}

/** HMAC-SHA1 over the lower-cased parts, first four base64 characters (as libsrs2). */
function hash(secret: string, ...parts: string[]): string {
  const mac = createHmac("sha1", secret);
  for (const p of parts) mac.update(p.toLowerCase());
  return mac.digest("base64").slice(0, HASH_LENGTH);
}

/** Case-insensitive: some MTAs lower-case local parts on the way back. */
function checkHash(address: string, given: string, secrets: readonly string[], ...parts: string[]) {
  const ok = secrets.some((s) =>
    s.length > 0 && hash(s, ...parts).toLowerCase() === given.toLowerCase()
  );
  if (!ok) throw new SrsError("forged", `Cannot reverse ${address}: hash does not match`);
}

/** A stamp from the future counts as from 1024 days ago (it wrapped). */
function checkAge(address: string, tt: string, maxAgeDays: number, now: Date) {
  const hi = BASE32.indexOf(tt[0].toUpperCase());
  const lo = BASE32.indexOf(tt[1].toUpperCase());
  if (hi < 0 || lo < 0) throw new SrsError("syntax", `Cannot reverse ${address}: bad timestamp`);
  const today = Math.floor(now.getTime() / DAY_MS) % TICK_SLOTS;
  let then = hi * 32 + lo;
  if (then > today) then -= TICK_SLOTS;
  if (today - then > maxAgeDays) {
    throw new SrsError("expired", `Cannot reverse ${address}: older than ${maxAgeDays} days`);
  }
}
