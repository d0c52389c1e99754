/** Real SMTP clients for tests: swaks and Python's smtplib, plus TLS test certificates. */
import { OPENSSL, PYTHON3, requireProgram, requireSwaks, SWAKS } from "./requirements.ts";

const dec = new TextDecoder();

/** Output of a client run. */
export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs swaks against 127.0.0.1:port with extra arguments (bounded by a 30 s timeout). */
export function swaks(port: number, args: string[]): Promise<ClientResult> {
  return swaksRun(["--server", `127.0.0.1:${port}`, "--timeout", "20", ...args]);
}

/**
 * Runs swaks with exactly `args` (bounded by a 30 s timeout); fails first, naming the
 * package, when swaks or a feature the arguments use (TLS, IPv6) is not installed.
 */
export async function swaksRun(args: string[]): Promise<ClientResult> {
  requireSwaks(args);
  const r = await new Deno.Command(SWAKS, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(30000),
  }).output();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/**
 * Runs a Python 3 script; `PORT` in its environment is the relay's port. The script prints
 * what the test checks (JSON is convenient).
 */
export async function python(
  script: string,
  env: Record<string, string> = {},
): Promise<ClientResult> {
  const r = await new Deno.Command(requireProgram(PYTHON3, "python3"), {
    args: ["-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(30000),
  }).output();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** Makes a self-signed certificate for `localhost` with openssl; returns the file paths. */
export async function makeCert(
  dir: string,
  cn = "localhost",
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const r = await new Deno.Command(requireProgram(OPENSSL, "openssl"), {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      `subjectAltName=DNS:${cn}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(`openssl failed: ${dec.decode(r.stderr)}`);
  return { cert, key };
}
