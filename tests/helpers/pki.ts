/**
 * A private PKI for TLS tests, made with the openssl command: a root CA, an intermediate, and
 * leaf certificates with the names, issuer and validity a test asks for.
 */

const dec = new TextDecoder();

async function openssl(args: string[], cwd?: string): Promise<string> {
  let r;
  try {
    r = await new Deno.Command("openssl", {
      args,
      cwd,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
  } catch (e) {
    throw new Error(`openssl is needed for TLS tests (Debian package openssl): ${e}`);
  }
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

/** A certificate and its key on disk. */
export interface IssuedCert {
  /** PEM chain: the certificate, then its intermediate (when issued by one). */
  chain: string;
  /** PEM private key. */
  key: string;
  /** PEM of the certificate alone. */
  cert: string;
}

/** Options for {@linkcode Pki.issue}. */
export interface IssueOptions {
  /** subjectAltName DNS names (none: a certificate with only a CN). */
  dns?: string[];
  /** subjectAltName IP addresses. */
  ips?: string[];
  /** Subject CN (default the first DNS name). */
  cn?: string;
  /** Signed by the root or the intermediate (default). */
  issuer?: "root" | "intermediate";
  /** Validity as openssl ca dates `YYYYMMDDHHMMSSZ` (default: now to one year ahead). */
  notBefore?: string;
  notAfter?: string;
}

/** A root CA and an intermediate that issue test certificates. */
export class Pki {
  /** The root certificate (a trust anchor file for `ca_file`). */
  readonly rootFile: string;
  /** The intermediate's certificate. */
  readonly intermediateFile: string;
  #dir: string;
  #n = 0;

  private constructor(dir: string) {
    this.#dir = dir;
    this.rootFile = `${dir}/root.pem`;
    this.intermediateFile = `${dir}/intermediate.pem`;
  }

  /** Creates the root and intermediate in `dir`. */
  static async create(dir: string): Promise<Pki> {
    const p = new Pki(dir);
    await Deno.writeTextFile(`${dir}/ca.ext`, CA_EXT);
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/root.key`,
      "-out",
      p.rootFile,
      "-days",
      "3650",
      "-subj",
      "/CN=Relay Test Root",
      "-addext",
      "basicConstraints=critical,CA:true",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await p.#sign("intermediate", "/CN=Relay Test Intermediate", "root", "v3_ca");
    return p;
  }

  async #sign(
    name: string,
    subject: string,
    issuer: "root" | "intermediate",
    section: string,
    ext = CA_EXT,
    dates: { notBefore?: string; notAfter?: string } = {},
  ): Promise<void> {
    const d = this.#dir;
    await openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${d}/${name}.key`,
      "-out",
      `${d}/${name}.csr`,
      "-subj",
      subject,
    ]);
    // `openssl ca` is the one subcommand that takes explicit start and end dates.
    const db = `${d}/${name}.db`;
    await Deno.writeTextFile(db, "");
    const conf = `${d}/${name}.cnf`;
    await Deno.writeTextFile(
      conf,
      `[ca]\ndefault_ca = c\n[c]\ndatabase = ${db}\nnew_certs_dir = ${d}\n` +
        `serial = ${d}/${name}.srl\ndefault_md = sha256\npolicy = p\nunique_subject = no\n` +
        `copy_extensions = none\n[p]\ncommonName = supplied\n${ext}`,
    );
    await Deno.writeTextFile(`${d}/${name}.srl`, (0x1000 + ++this.#n).toString(16) + "\n");
    const now = new Date();
    const stamp = (t: Date) => t.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
    await openssl([
      "ca",
      "-batch",
      "-notext",
      "-config",
      conf,
      "-extensions",
      section,
      "-cert",
      `${d}/${issuer}.pem`,
      "-keyfile",
      `${d}/${issuer}.key`,
      "-in",
      `${d}/${name}.csr`,
      "-out",
      `${d}/${name}.pem`,
      "-startdate",
      dates.notBefore ?? stamp(new Date(now.getTime() - 3600_000)),
      "-enddate",
      dates.notAfter ?? stamp(new Date(now.getTime() + 365 * 86400_000)),
    ]);
  }

  /** Issues a leaf certificate; `name` is a file name stem. */
  async issue(name: string, o: IssueOptions = {}): Promise<IssuedCert> {
    const d = this.#dir;
    const issuer = o.issuer ?? "intermediate";
    const san = [...(o.dns ?? []).map((n) => `DNS:${n}`), ...(o.ips ?? []).map((i) => `IP:${i}`)];
    const ext = `[leaf]\nbasicConstraints = critical,CA:false\n` +
      `keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n` +
      (san.length ? `subjectAltName = ${san.join(",")}\n` : "");
    await this.#sign(name, `/CN=${o.cn ?? o.dns?.[0] ?? name}`, issuer, "leaf", ext, o);
    const cert = `${d}/${name}.pem`;
    const chain = `${d}/${name}.chain.pem`;
    const parts = [await Deno.readTextFile(cert)];
    if (issuer === "intermediate") parts.push(await Deno.readTextFile(this.intermediateFile));
    await Deno.writeTextFile(chain, parts.join(""));
    return { chain, key: `${d}/${name}.key`, cert };
  }

  /** The hex SHA-256 of a certificate's SubjectPublicKeyInfo (TLSA `x 1 1`) or whole DER (`x 0 1`). */
  async tlsaHash(certFile: string, selector: 0 | 1): Promise<string> {
    const der = selector === 1
      ? await opensslBytes(["x509", "-in", certFile, "-noout", "-pubkey"]).then((pem) =>
        opensslBytesIn(["pkey", "-pubin", "-outform", "DER"], pem)
      )
      : await opensslBytes(["x509", "-in", certFile, "-outform", "DER"]);
    const h = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
    return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

async function opensslBytes(args: string[]): Promise<Uint8Array<ArrayBuffer>> {
  const r = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" }).output();
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${dec.decode(r.stderr)}`);
  return new Uint8Array(r.stdout);
}

async function opensslBytesIn(args: string[], input: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const p = new Deno.Command("openssl", {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(input);
  await w.close();
  const r = await p.output();
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${dec.decode(r.stderr)}`);
  return new Uint8Array(r.stdout);
}

const CA_EXT = "[v3_ca]\nbasicConstraints = critical,CA:true\n" +
  "keyUsage = critical,keyCertSign,cRLSign\n";
