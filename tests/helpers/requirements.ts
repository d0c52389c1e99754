/**
 * What the test tools need from the machine, checked before they run: a missing program,
 * Perl module or Python module fails the test with the Debian package that provides it
 * (tests/debian_packages.txt lists them all; `bash tests/install_deps.sh` installs them).
 * Tests never skip for a missing tool.
 *
 * @module
 */

/** A test tool, or a part of one, is not installed. */
export class MissingTestDependencyError extends Error {
  /** `what` is missing; Debian's `pkg` provides it. */
  constructor(what: string, pkg: string) {
    super(
      `Cannot run the test: ${what} is missing; install the Debian package ${pkg} ` +
        `(tests/debian_packages.txt; run \`bash tests/install_deps.sh\` as root)`,
    );
    this.name = "MissingTestDependencyError";
  }
}

/**
 * Debian's programs, by absolute path: a PATH may put other builds first (pyenv's python3
 * lacks Debian's python3-dkim), and the tests must run what debian_packages.txt installs.
 */
export const PYTHON3 = "/usr/bin/python3";
/** Debian's swaks. */
export const SWAKS = "/usr/bin/swaks";
/** Debian's openssl. */
export const OPENSSL = "/usr/bin/openssl";

const found = new Map<string, string | null>();

function which(name: string): string | null {
  if (name.includes("/")) return isFile(name) ? name : null;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    if (dir && isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Returns the path of the program `name` (a path, or a name looked up in PATH); throws
 * {@linkcode MissingTestDependencyError} naming `pkg` when it is not installed.
 */
export function requireProgram(name: string, pkg: string): string {
  if (!found.has(name)) found.set(name, which(name));
  const path = found.get(name);
  if (!path) throw new MissingTestDependencyError(`the program ${name}`, pkg);
  return path;
}

/** A swaks feature a run needs and the Debian package of the Perl module behind it. */
export interface SwaksFeature {
  /** The feature's name in `swaks --support`. */
  feature: string;
  /** The Debian package that provides its Perl module. */
  pkg: string;
  /** Whether the arguments of a run use it. */
  used: (args: string[]) => boolean;
}

/**
 * The optional swaks features the tests use. swaks only Recommends their Perl modules, so
 * `--no-install-recommends` leaves them out. (swaks 20201014 does TLS with Net::SSLeay
 * alone; IO::Socket::SSL is not used.)
 */
export const SWAKS_FEATURES: readonly SwaksFeature[] = [
  {
    feature: "TLS",
    pkg: "libnet-ssleay-perl", // Net::SSLeay
    used: (args) => args.some((a) => /^--?tls/.test(a)),
  },
  {
    feature: "IPv6",
    pkg: "libio-socket-inet6-perl", // IO::Socket::INET6 (and Socket6)
    used: (args) =>
      args.some((a, i) =>
        a === "-6" || a === "--ipv6" ||
        (/^(-s|--server)$/.test(args[i - 1] ?? "") && /^\[|:.*:/.test(a))
      ),
  },
  {
    feature: "AUTH DIGEST-MD5",
    pkg: "libauthen-sasl-perl", // Authen::SASL
    used: (args) =>
      args.some((a, i) => /^--?a(uth)?$/.test(args[i - 1] ?? "") && /DIGEST/i.test(a)),
  },
];

/**
 * The features `args` use that `swaks --support` output says are not available. Pure, so
 * it is tested with the output of a swaks installed without its recommended modules.
 */
export function missingSwaksFeatures(support: string, args: string[]): SwaksFeature[] {
  return SWAKS_FEATURES.filter((f) =>
    f.used(args) && new RegExp(`^\\*\\*\\* ${f.feature} not available`, "m").test(support)
  );
}

let swaksSupport: string | null = null;

/** Fails naming the package when swaks, or a swaks feature `args` use, is not installed. */
export function requireSwaks(args: string[]): void {
  const swaks = requireProgram(SWAKS, "swaks");
  if (swaksSupport === null) {
    const out = new Deno.Command(swaks, {
      args: ["--support"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const dec = new TextDecoder();
    swaksSupport = dec.decode(out.stdout) + dec.decode(out.stderr);
  }
  const [missing] = missingSwaksFeatures(swaksSupport, args);
  if (missing) {
    throw new MissingTestDependencyError(`swaks ${missing.feature} support`, missing.pkg);
  }
}

const pythonModules = new Map<string, boolean>();

/**
 * Fails naming the package when Python 3, or one of `modules` (module name → Debian
 * package), is not installed.
 */
export function requirePythonModules(modules: Record<string, string>): void {
  const python = requireProgram(PYTHON3, "python3");
  for (const [mod, pkg] of Object.entries(modules)) {
    if (!pythonModules.has(mod)) {
      const out = new Deno.Command(python, {
        args: ["-c", "import importlib, sys; importlib.import_module(sys.argv[1])", mod],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).outputSync();
      pythonModules.set(mod, out.success);
    }
    if (!pythonModules.get(mod)) {
      throw new MissingTestDependencyError(`the Python module ${mod}`, pkg);
    }
  }
}
