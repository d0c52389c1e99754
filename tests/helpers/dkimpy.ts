/**
 * Python's dkim module (Debian's python3-dkim) as an independent DKIM signer and verifier.
 * Data goes through files; the scripts are fixed text.
 */

import { PYTHON3 as PYTHON, requirePythonModules } from "./requirements.ts";

const SIGN = `
import sys, json, dkim
a = json.load(open(sys.argv[1]))
msg = open(a["message"], "rb").read()
c = a["canonicalization"].split("/")
sig = dkim.sign(msg, a["selector"].encode(), a["domain"].encode(), a["key"].encode(),
    canonicalize=(c[0].encode(), c[1].encode()), signature_algorithm=a["algorithm"].encode(),
    include_headers=[h.encode() for h in a["headers"]])
sys.stdout.buffer.write(sig + msg)
`;

const ARC_SIGN = `
import sys, json, dkim
a = json.load(open(sys.argv[1]))
msg = open(a["message"], "rb").read()
hs = dkim.arc_sign(msg, a["selector"].encode(), a["domain"].encode(), a["key"].encode(),
    a["srvId"].encode())
sys.stdout.buffer.write(b"".join(hs) + msg)
`;

const ARC_VERIFY = `
import sys, json, dkim
a = json.load(open(sys.argv[1]))
msg = open(a["message"], "rb").read()
def dnsfunc(name, timeout=5):
    return a["records"].get(name.decode().rstrip(".").lower(), "").encode()
cv, results, comment = dkim.arc_verify(msg, dnsfunc=dnsfunc)
print(cv.decode())
`;

const VERIFY = `
import sys, json, dkim
a = json.load(open(sys.argv[1]))
msg = open(a["message"], "rb").read()
def dnsfunc(name, timeout=5):
    return a["records"].get(name.decode().rstrip(".").lower(), "").encode()
d = dkim.DKIM(msg)
ok = all(d.verify(idx=i, dnsfunc=dnsfunc) for i in range(max(1, len([l for l in d.headers if l[0].lower() == b"dkim-signature"]))))
print("pass" if ok else "fail")
`;

/**
 * The Python modules the scripts import, with their Debian packages: dkim itself, nacl for
 * Ed25519 keys, authres for ARC (python3-dkim only Suggests it). Missing ones fail the test.
 */
const MODULES = { dkim: "python3-dkim", nacl: "python3-nacl", authres: "python3-authres" };

async function run(script: string, args: Record<string, unknown>): Promise<Uint8Array> {
  requirePythonModules(MODULES);
  const dir = await Deno.makeTempDir({ prefix: "dkimpy" });
  try {
    const message = `${dir}/message.eml`;
    await Deno.writeFile(message, args.message as Uint8Array);
    await Deno.writeTextFile(`${dir}/args.json`, JSON.stringify({ ...args, message }));
    const out = await new Deno.Command(PYTHON, { args: ["-c", script, `${dir}/args.json`] })
      .output();
    if (!out.success) throw new Error(`dkimpy failed: ${new TextDecoder().decode(out.stderr)}`);
    return out.stdout;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Signs with dkimpy; `key` is PKCS#1 PEM for RSA, base64 of the 32-byte seed for Ed25519. */
export function dkimpySign(message: Uint8Array, opts: {
  domain: string;
  selector: string;
  key: string;
  algorithm: "rsa-sha256" | "ed25519-sha256";
  canonicalization: string;
  headers: string[];
}): Promise<Uint8Array> {
  return run(SIGN, { ...opts, message });
}

/** Verifies every DKIM-Signature with dkimpy, keys given as `selector._domainkey.domain` → TXT. */
export async function dkimpyVerify(
  message: Uint8Array,
  records: Record<string, string>,
): Promise<"pass" | "fail"> {
  const out = new TextDecoder().decode(await run(VERIFY, { message, records })).trim();
  return out === "pass" ? "pass" : "fail";
}

/** ARC-seals a message with dkimpy (RSA); it must carry an A-R header of `srvId`. */
export function dkimpyArcSign(message: Uint8Array, opts: {
  domain: string;
  selector: string;
  key: string;
  srvId: string;
}): Promise<Uint8Array> {
  return run(ARC_SIGN, { ...opts, message });
}

/** Validates the ARC chain with dkimpy: the cv it finds (pass, fail or none). */
export async function dkimpyArcVerify(
  message: Uint8Array,
  records: Record<string, string>,
): Promise<string> {
  return new TextDecoder().decode(await run(ARC_VERIFY, { message, records })).trim();
}
