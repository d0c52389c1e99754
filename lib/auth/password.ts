import { scrypt, timingSafeEqual } from "node:crypto";

/** A password hash line could not be read. */
export class PasswordHashError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PasswordHashError";
  }
}

interface ScryptHash {
  ln: number;
  r: number;
  p: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b)).replace(/=+$/, "");
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

function scryptAsync(
  password: string,
  salt: Uint8Array,
  len: number,
  opts: { N: number; r: number; p: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      salt,
      len,
      { ...opts, maxmem: 256 * opts.N * opts.r + 1024 * 1024 },
      (e, k) => e ? reject(e) : resolve(new Uint8Array(k)),
    )
  );
}

/**
 * Parses `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64 without padding, as passlib writes).
 *
 * @throws {PasswordHashError} when the text is not such a hash
 */
export function parseScryptHash(text: string): ScryptHash {
  const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/.]+)\$([A-Za-z0-9+/.]+)$/.exec(text);
  if (!m) throw new PasswordHashError("not a $scrypt$ln=N,r=R,p=P$salt$hash password hash");
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) {
    throw new PasswordHashError("scrypt parameters out of range (ln 10-20, r 1-32, p 1-16)");
  }
  return {
    ln,
    r,
    p,
    salt: unb64(m[4].replaceAll(".", "+")),
    hash: unb64(m[5].replaceAll(".", "+")),
  };
}

/**
 * Hashes a password with scrypt and a random salt.
 *
 * @example Usage
 * ```ts
 * const line = `alice:${await hashPassword("secret")}`;
 * ```
 */
export async function hashPassword(password: string, ln = 15): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await scryptAsync(password, salt, 32, { N: 2 ** ln, r: 8, p: 1 });
  return `$scrypt$ln=${ln},r=8,p=1$${b64(salt)}$${b64(hash)}`;
}

/** Checks a password against a parsed hash in constant time. */
export async function verifyPassword(password: string, h: ScryptHash): Promise<boolean> {
  const got = await scryptAsync(password, h.salt, h.hash.length, { N: 2 ** h.ln, r: h.r, p: h.p });
  return got.length === h.hash.length && timingSafeEqual(got, h.hash);
}

/** The type of a parsed hash, for stores. */
export type { ScryptHash };
