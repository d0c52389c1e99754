import type { Logger } from "../log/mod.ts";

// Linux numbering; SIG_IGN is handler value 1, SIG_DFL 0, SIG_ERR -1.
const SIGUSR1 = 10;
const POLL_MS = 50;
const GIVE_UP_MS = 30_000;

/**
 * Keeps SIGUSR1 from opening a V8 inspector. Deno (2.9.2 and later) installs, about 500 ms
 * after start, a SIGUSR1 handler that starts an inspector on 127.0.0.1:9229 that any local
 * user could connect to and run code in the relay; no flag or environment variable turns it
 * off. This sets SIGUSR1 to SIG_IGN through libc's `signal()` and does so again until it has
 * replaced Deno's handler (the previous handler is then neither SIG_DFL nor SIG_IGN).
 * Needs `--allow-ffi`; without it, or off Linux, it logs a warning and does nothing.
 *
 * @returns a function that stops the polling (the signal stays ignored)
 * @example Usage
 * ```ts
 * const stop = keepInspectorOff(log);
 * // ... serve ...
 * stop();
 * ```
 */
export function keepInspectorOff(log: Logger): () => void {
  if (Deno.build.os !== "linux") return () => {};
  let libc: Deno.DynamicLibrary<{ signal: { parameters: ["i32", "pointer"]; result: "pointer" } }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      signal: { parameters: ["i32", "pointer"], result: "pointer" },
    });
  } catch (e) {
    log.warn(
      `SIGUSR1 cannot be ignored (${(e as Error).message}): Deno opens a V8 inspector on ` +
        `127.0.0.1:9229 when it receives SIGUSR1; never send it, run the relay as its own user`,
    );
    return () => {};
  }
  const ignore = Deno.UnsafePointer.create(1n);
  // True once the handler replaced was a real one (Deno's), not a default or ours.
  const replace = (): boolean => {
    const old = Deno.UnsafePointer.value(libc.symbols.signal(SIGUSR1, ignore));
    return old !== 0n && old !== 1n && old !== 0xffff_ffff_ffff_ffffn;
  };
  if (replace()) {
    libc.close();
    return () => {};
  }
  const started = Date.now();
  const timer = setInterval(() => {
    if (replace() || Date.now() - started > GIVE_UP_MS) stop();
  }, POLL_MS);
  Deno.unrefTimer(timer);
  let stopped = false;
  function stop() {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    libc.close();
  }
  return stop;
}
