/**
 * Dropping root after the listeners are bound (`[server] user` / `group`), as Postfix and Exim
 * do. Deno has no setuid, so this calls the C library through FFI. glibc's `setuid`/`setgid`
 * apply to every thread of the process (its "setxid" broadcast), which the raw system calls
 * would not: Deno runs several threads.
 */

/** The user or group cannot be switched to; `relay serve` refuses to start. */
export class PrivilegeError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PrivilegeError";
  }
}

const SYMBOLS = {
  getpwnam: { parameters: ["buffer"], result: "pointer" },
  getgrnam: { parameters: ["buffer"], result: "pointer" },
  getuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  setuid: { parameters: ["u32"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;
let libc: Libc | null = null;

function open(): Libc {
  if (libc) return libc;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    throw new PrivilegeError(`[server] user/group are supported on 64-bit Linux only`);
  }
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    throw new PrivilegeError(`Cannot load libc.so.6 to change user: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return libc;
}

const cstr = (s: string) => new TextEncoder().encode(s + "\0");

/** A user and group, as numbers. */
export interface Identity {
  uid: number;
  gid: number;
}

/**
 * Resolves `[server] user` (a name or a number) and `group` (empty: the user's own group)
 * through the system's user database (getpwnam/getgrnam, so NSS sources count).
 */
export function resolveIdentity(user: string, group = ""): Identity {
  const lib = open();
  let uid: number;
  let gid: number | null = null;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
  } else {
    const pw = lib.symbols.getpwnam(cstr(user));
    if (pw === null) throw new PrivilegeError(`[server] user: no user "${user}" on this system`);
    // struct passwd on 64-bit Linux: name, passwd (pointers), then uid_t, gid_t.
    const view = new Deno.UnsafePointerView(pw);
    uid = view.getUint32(16);
    gid = view.getUint32(20);
  }
  if (group) {
    if (/^\d+$/.test(group)) {
      gid = Number(group);
    } else {
      const gr = lib.symbols.getgrnam(cstr(group));
      if (gr === null) throw new PrivilegeError(`[server] group: no group "${group}"`);
      gid = new Deno.UnsafePointerView(gr).getUint32(16); // name, passwd, then gid_t
    }
  }
  if (gid === null) {
    throw new PrivilegeError(`[server] user is a number (${user}): set [server] group too`);
  }
  return { uid, gid };
}

/** The process's real and effective ids now (for logs and tests). */
export function currentIdentity(): Identity & { euid: number } {
  const lib = open();
  return { uid: lib.symbols.getuid(), gid: lib.symbols.getgid(), euid: lib.symbols.geteuid() };
}

/**
 * Gives root up for good: owns `paths` (the spool folder and its files, so SQLite can still
 * create its `-wal`/`-shm` there) to the new user, then drops supplementary groups, sets the
 * group and the user, and checks that root cannot be taken back.
 *
 * @throws {PrivilegeError} when not root (and not already that user), or a call fails
 */
export async function dropPrivileges(to: Identity, paths: string[]): Promise<void> {
  const lib = open();
  const now = currentIdentity();
  if (now.uid === to.uid && now.euid === to.uid && now.gid === to.gid) return;
  if (now.euid !== 0) {
    throw new PrivilegeError(
      `[server] user: cannot switch to uid ${to.uid} when not started as root (uid ${now.euid})`,
    );
  }
  for (const p of paths) {
    try {
      await Deno.chown(p, to.uid, to.gid);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new PrivilegeError(`Cannot give ${p} to uid ${to.uid}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  }
  const groups = new Uint32Array([to.gid]);
  if (lib.symbols.setgroups(1n, new Uint8Array(groups.buffer)) !== 0) {
    throw new PrivilegeError(`setgroups(${to.gid}) failed`);
  }
  if (lib.symbols.setgid(to.gid) !== 0) throw new PrivilegeError(`setgid(${to.gid}) failed`);
  if (lib.symbols.setuid(to.uid) !== 0) throw new PrivilegeError(`setuid(${to.uid}) failed`);
  const after = currentIdentity();
  if (after.uid !== to.uid || after.euid !== to.uid || after.gid !== to.gid) {
    throw new PrivilegeError(`the user did not change (uid ${after.uid}, gid ${after.gid})`);
  }
  if (to.uid !== 0 && lib.symbols.setuid(0) === 0) {
    throw new PrivilegeError("root could be taken back after setuid: refusing to run");
  }
}
