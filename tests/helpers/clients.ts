/** Real SMTP clients for tests: swaks and Python's smtplib, plus TLS test certificates. */

const dec = new TextDecoder();

/** Output of a client run. */
export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs swaks against 127.0.0.1:port with extra arguments (bounded by a 30 s timeout). */
export async function swaks(port: number, args: string[]): Promise<ClientResult> {
  const r = await new Deno.Command("swaks", {
    args: ["--server", `127.0.0.1:${port}`, "--timeout", "20", ...args],
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
  const r = await new Deno.Command("python3", {
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
  const r = await new Deno.Command("openssl", {
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
