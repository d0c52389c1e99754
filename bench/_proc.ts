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
 * A process and all its live descendants (Postfix: the master and its daemons; Exim: the
 * daemon, its reception processes and their delivery processes).
 */
export async function treePids(pid: number): Promise<number[]> {
  const out = await new Deno.Command("ps", {
    args: ["-e", "-o", "pid=,ppid="],
    stdout: "piped",
    stderr: "null",
  }).output();
  const kids = new Map<number, number[]>();
  for (const line of dec.decode(out.stdout).split("\n")) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (!p) continue;
    kids.set(pp, [...(kids.get(pp) ?? []), p]);
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(kids.get(all[i]) ?? []));
  return all;
}

/**
 * CPU milliseconds of a process tree: each live process's own time plus the time of the
 * children it has reaped (so an exited smtpd counts through the master that waited for it).
 */
export async function allTreeCpuMs(pid: number): Promise<number | undefined> {
  const ms = await Promise.all((await treePids(pid)).map(cpuMs));
  return ms[0] === undefined ? undefined : ms.reduce((n: number, c) => n + (c ?? 0), 0);
}

/**
 * Summed proportional set size (`Pss:` of /proc/PID/smaps_rollup) of the processes in bytes;
 * shared pages are split among the processes sharing them, so the sum does not count them twice.
 * Processes gone meanwhile are skipped; undefined when none could be read.
 */
export async function pssSum(pids: number[]): Promise<number | undefined> {
  if (pids.length === 0) return undefined;
  // One `cat` for all: it reads the files it can and skips the ones that vanished.
  const out = await new Deno.Command("cat", {
    args: pids.map((p) => `/proc/${p}/smaps_rollup`),
    stdout: "piped",
    stderr: "null",
  }).output();
  const kb = [...dec.decode(out.stdout).matchAll(/^Pss:\s+(\d+) kB/gm)].map((m) => Number(m[1]));
  return kb.length ? kb.reduce((a, b) => a + b, 0) * 1024 : undefined;
}

/** Whole-machine CPU jiffies from the first line of /proc/stat: busy and total. */
export async function machineCpu(): Promise<{ busy: number; total: number } | undefined> {
  const stat = await readProc("/proc/stat");
  const m = stat ? /^cpu\s+([\d\s]+)$/m.exec(stat) : null;
  if (!m) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const f = m[1].trim().split(/\s+/).slice(0, 8).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

/** Share of the machine's CPU time that was busy between two {@linkcode machineCpu} readings. */
export function busyShare(
  a: { busy: number; total: number } | undefined,
  b: { busy: number; total: number } | undefined,
): number | undefined {
  if (!a || !b || b.total === a.total) return undefined;
  return (b.busy - a.busy) / (b.total - a.total);
}

/** {@linkcode pssSum} under the name bench/accept.ts uses. */
export const totalPss: (pids: number[]) => Promise<number | undefined> = pssSum;

/** PSS of a process and all its live descendants (Postfix's master and its daemons). */
export async function treePss(pid: number): Promise<number | undefined> {
  return await pssSum(await treePids(pid));
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
