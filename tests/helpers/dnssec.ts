/**
 * A DNSSEC test bed on loopback: nsd serving zones (signed with ldns-keygen/ldns-signzone, or
 * left unsigned) and unbound validating them with the signed zones' KSK DS records as trust
 * anchors. Zones are written per test file in a temp dir; start it once per file.
 */
import { Resolver } from "../../lib/dns/mod.ts";

const dec = new TextDecoder();

async function run(cmd: string, args: string[], cwd: string, pkg: string): Promise<string> {
  let r;
  try {
    r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped", stdin: "null" })
      .output();
  } catch (e) {
    throw new Error(`${cmd} is needed for DNSSEC tests (Debian package ${pkg}): ${e}`);
  }
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${dec.decode(r.stderr)}`);
  return dec.decode(r.stdout);
}

/** One zone to serve. */
export interface ZoneSpec {
  /** Zone apex without the final dot, for example `dane.test`. */
  name: string;
  /** Zone file lines after `$ORIGIN` and the SOA/NS the helper writes (relative names ok). */
  records: string[];
  /** Sign it and make its KSK a trust anchor (default true); false: an insecure zone. */
  signed?: boolean;
  /** Edits the signed zone text after signing (to make an RRset bogus). */
  afterSigning?: (signedText: string) => string;
}

/** A loopback port that was free for TCP (UDP is almost always free too; raced, as in tests). */
function freePort(): number {
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (tcp.addr as Deno.NetAddr).port;
  tcp.close();
  return port;
}

/** nsd and unbound running on loopback ports. */
export class DnssecBed {
  /** `127.0.0.1:<port>` of the validating resolver (unbound). */
  readonly resolverAddress: string;
  /** `127.0.0.1:<port>` of the authoritative server (nsd; answers without AD). */
  readonly authAddress: string;
  #children: Deno.ChildProcess[];
  #dir: string;

  private constructor(dir: string, resolver: number, auth: number, children: Deno.ChildProcess[]) {
    this.#dir = dir;
    this.resolverAddress = `127.0.0.1:${resolver}`;
    this.authAddress = `127.0.0.1:${auth}`;
    this.#children = children;
  }

  /** Signs and serves the zones; resolves once unbound answers the first one with AD. */
  static async start(zones: ZoneSpec[]): Promise<DnssecBed> {
    const dir = await Deno.makeTempDir({ prefix: "relay-dnssec-" });
    const anchors: string[] = [];
    const nsdZones: string[] = [];
    for (const z of zones) {
      const text = [
        `$ORIGIN ${z.name}.`,
        `$TTL 60`,
        `@ IN SOA ns.${z.name}. admin.${z.name}. 1 3600 600 86400 60`,
        `@ IN NS ns.${z.name}.`,
        `ns IN A 127.0.0.1`,
        ...z.records,
        "",
      ].join("\n");
      const file = `${dir}/${z.name}.zone`;
      await Deno.writeTextFile(file, text);
      let served = file;
      if (z.signed !== false) {
        const ksk =
          (await run("ldns-keygen", ["-a", "ECDSAP256SHA256", "-k", z.name], dir, "ldnsutils"))
            .trim();
        const zsk = (await run("ldns-keygen", ["-a", "ECDSAP256SHA256", z.name], dir, "ldnsutils"))
          .trim();
        served = `${dir}/${z.name}.signed`;
        await run("ldns-signzone", ["-n", "-f", served, file, zsk, ksk], dir, "ldnsutils");
        if (z.afterSigning) {
          await Deno.writeTextFile(served, z.afterSigning(await Deno.readTextFile(served)));
        }
        anchors.push(`${dir}/${ksk}.ds`);
      }
      nsdZones.push(`zone:\n  name: "${z.name}"\n  zonefile: "${served}"\n`);
    }
    const nsdPort = freePort();
    await Deno.writeTextFile(
      `${dir}/nsd.conf`,
      `server:\n  ip-address: 127.0.0.1@${nsdPort}\n  database: ""\n  username: ""\n` +
        `  zonesdir: "${dir}"\n  pidfile: "${dir}/nsd.pid"\n  xfrdfile: "${dir}/xfrd.state"\n` +
        `  zonelistfile: "${dir}/zone.list"\n  logfile: "${dir}/nsd.log"\n  server-count: 1\n` +
        `  verbosity: 1\n  xfrdir: "${dir}"\nremote-control:\n  control-enable: no\n` +
        nsdZones.join(""),
    );
    const ubPort = freePort();
    await Deno.writeTextFile(
      `${dir}/unbound.conf`,
      `server:\n  interface: 127.0.0.1@${ubPort}\n  port: ${ubPort}\n  chroot: ""\n` +
        `  username: ""\n  directory: "${dir}"\n  pidfile: ""\n  use-syslog: no\n` +
        `  logfile: "${dir}/unbound.log"\n  verbosity: 1\n  num-threads: 1\n` +
        `  do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n` +
        `  module-config: "validator iterator"\n  local-zone: "test." nodefault\n` +
        `  so-reuseport: no\n  val-log-level: 2\n` +
        anchors.map((a) => `  trust-anchor-file: "${a}"\n`).join("") +
        zones.map((z) => `  domain-insecure: "${z.signed === false ? z.name : "invalid"}"\n`)
          .filter((l) => !l.includes('"invalid"')).join("") +
        `remote-control:\n  control-enable: no\n` +
        zones.map((z) => `stub-zone:\n  name: "${z.name}"\n  stub-addr: 127.0.0.1@${nsdPort}\n`)
          .join(""),
    );
    const spawn = (cmd: string, conf: string, pkg: string) => {
      try {
        return new Deno.Command(cmd, {
          args: ["-d", "-c", conf],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
      } catch (e) {
        throw new Error(`${cmd} is needed for DNSSEC tests (Debian package ${pkg}): ${e}`);
      }
    };
    const nsd = spawn("/usr/sbin/nsd", `${dir}/nsd.conf`, "nsd");
    const unbound = spawn("/usr/sbin/unbound", `${dir}/unbound.conf`, "unbound");
    const bed = new DnssecBed(dir, ubPort, nsdPort, [nsd, unbound]);
    const probe = new Resolver({
      servers: [bed.resolverAddress],
      timeout: 300,
      attempts: 1,
      cache: false,
    });
    const first = zones.find((z) => z.signed !== false) ?? zones[0];
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        const r = await probe.lookup(first.name, "SOA");
        if (r.records.length > 0 && (r.ad || first.signed === false)) return bed;
      } catch { /* not up yet */ }
      if (Date.now() > until) {
        const logs = await Promise.all(
          ["nsd.log", "unbound.log"].map((f) => Deno.readTextFile(`${dir}/${f}`).catch(() => "")),
        );
        await bed.close();
        throw new Error(`DNSSEC test bed did not come up:\n${logs.join("\n")}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops unbound and nsd and removes the files. */
  async close(): Promise<void> {
    for (const c of this.#children) {
      try {
        c.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.all(this.#children.map((c) => c.status));
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
