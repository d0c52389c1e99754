/**
 * Readings from /proc for the benchmarks: memory and CPU time. Deno grants /proc only with
 * --allow-all, so the files are read through `cat` (the bench task allows running programs).
 */

const dec = new TextDecoder();

async function readProc(path: string): Promise<string | undefined> {
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .output();
  return out.success ? dec.decode(out.stdout) : undefined;
}

/** Peak resident set size (VmHWM) of a process in bytes, if it still exists. */
export async function peakRss(pid: number): Promise<number | undefined> {
  const status = await readProc(`/proc/${pid}/status`);
  const m = status ? /^VmHWM:\s+(\d+) kB/m.exec(status) : null;
  return m ? Number(m[1]) * 1024 : undefined;
}

/** CPU time (user + system, including waited-for children) of a process in milliseconds. */
export async function cpuMs(pid: number): Promise<number | undefined> {
  const stat = await readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // Fields after the command name, which is in parentheses and may hold spaces.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux.
}

/** Process ids whose parent is `pid` (direct children only). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "pid=", "--ppid", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return dec.decode(out.stdout).split(/\s+/).filter(Boolean).map(Number);
}

/** Total CPU milliseconds of a process and its live direct children. */
export async function treeCpuMs(pid: number): Promise<number | undefined> {
  const own = await cpuMs(pid);
  if (own === undefined) return undefined;
  const kids = await Promise.all((await childrenOf(pid)).map(cpuMs));
  return kids.reduce((n: number, c) => n + (c ?? 0), own);
}

/** Sum of peak RSS over a process and its live direct children (shared pages count twice). */
export async function treePeakRss(pid: number): Promise<number | undefined> {
  const own = await peakRss(pid);
  if (own === undefined) return undefined;
  const kids = await Promise.all((await childrenOf(pid)).map(peakRss));
  return kids.reduce((n: number, c) => n + (c ?? 0), own);
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Deno.loadavg()[0];
}

/**
 * Proportional set size (`Pss:` of /proc/PID/smaps_rollup) summed over processes, in bytes:
 * shared pages count once over the set, so a multi-process server (Postfix) and a single
 * process compare fairly. One `cat` for all of them.
 */
export async function totalPss(pids: number[]): Promise<number | undefined> {
  if (pids.length === 0) return undefined;
  const out = await new Deno.Command("cat", {
    args: pids.map((p) => `/proc/${p}/smaps_rollup`),
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = dec.decode(out.stdout);
  let kb = 0;
  let any = false;
  for (const m of text.matchAll(/^Pss:\s+(\d+) kB/gm)) {
    kb += Number(m[1]);
    any = true;
  }
  return any ? kb * 1024 : undefined;
}

/** PSS of a process and its live direct children (Postfix's master and its daemons). */
export async function treePss(pid: number): Promise<number | undefined> {
  return await totalPss([pid, ...(await childrenOf(pid))]);
}

/**
 * Samples `read` every `ms` until stopped; `peak()` is the largest reading so far (for peak
 * PSS, which the kernel does not keep as it keeps VmHWM).
 */
export function peakSampler(
  read: () => Promise<number | undefined>,
  ms = 500,
): { peak(): number | undefined; stop(): Promise<void> } {
  let peak: number | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      const v = await read().catch(() => undefined);
      if (v !== undefined) peak = Math.max(peak ?? 0, v);
      await new Promise((r) => setTimeout(r, ms));
    }
  })();
  return {
    peak: () => peak,
    async stop() {
      running = false;
      await loop;
    },
  };
}
