import { parseScryptHash, PasswordHashError, type ScryptHash, verifyPassword } from "./password.ts";

/** The credentials file is unreadable or has a bad line. */
export class CredentialsError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CredentialsError";
  }
}

// A fixed hash to verify against for unknown users, so timing does not reveal who exists.
const DUMMY = parseScryptHash(
  "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
);

/**
 * Users and password hashes from a file of `user:hash` lines (`#` comments). Plain-text
 * passwords are refused. The file is read again when its modification time changes.
 */
export class CredentialStore {
  #path: string;
  #users = new Map<string, ScryptHash>();
  #mtime = -1;

  private constructor(path: string) {
    this.#path = path;
  }

  /**
   * Loads the file.
   *
   * @throws {CredentialsError} naming the file and line of a bad entry
   */
  static async open(path: string): Promise<CredentialStore> {
    const store = new CredentialStore(path);
    await store.#reloadIfChanged();
    return store;
  }

  /** Parses credentials text; `name` is used in error messages. */
  static parse(text: string, name: string): Map<string, ScryptHash> {
    const users = new Map<string, ScryptHash>();
    text.split("\n").forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new CredentialsError(`${name}:${i + 1}: expected user:hash`);
      try {
        users.set(line.slice(0, colon), parseScryptHash(line.slice(colon + 1)));
      } catch (e) {
        if (!(e instanceof PasswordHashError)) throw e;
        throw new CredentialsError(
          `${name}:${i + 1}: ${e.message} (make one with: relay passwd USER)`,
        );
      }
    });
    return users;
  }

  async #reloadIfChanged(): Promise<void> {
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(this.#path);
    } catch (e) {
      throw new CredentialsError(`Cannot read ${this.#path}: ${(e as Error).message}`);
    }
    const mtime = stat.mtime?.getTime() ?? 0;
    if (mtime === this.#mtime) return;
    this.#users = CredentialStore.parse(await Deno.readTextFile(this.#path), this.#path);
    this.#mtime = mtime;
  }

  /** Checks a user's password; unknown users take as long as known ones. */
  async verify(user: string, password: string): Promise<boolean> {
    try {
      await this.#reloadIfChanged();
    } catch { /* keep the last good set */ }
    const hash = this.#users.get(user);
    const ok = await verifyPassword(password, hash ?? DUMMY);
    return ok && hash !== undefined;
  }
}
