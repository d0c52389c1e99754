/** Summarizes a V8 .cpuprofile (as written by `deno run --cpu-prof`): where the time went. */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One line of the summary. */
export interface ProfileEntry {
  /** `function file:line`, or a V8 pseudo-entry such as `(idle)`. */
  name: string;
  /** Milliseconds of samples. */
  ms: number;
  /** Share of all samples, in percent. */
  percent: number;
}

function frameName(cf: CallFrame): string {
  const file = cf.url.split("/").pop() ?? "";
  const fn = cf.functionName || "(anonymous)";
  return file ? `${fn} ${file}:${cf.lineNumber + 1}` : fn;
}

/**
 * Self time per function (`self`) and time including callees (`inclusive`, counted once per
 * sample even under recursion), both sorted, largest first.
 */
export function summarizeProfile(
  profile: CpuProfile,
): { totalMs: number; self: ProfileEntry[]; inclusive: ProfileEntry[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perNode = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    perNode.set(id, (perNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  for (const [id, us] of perNode) {
    total += us;
    const name = frameName(byId.get(id)!.callFrame);
    self.set(name, (self.get(name) ?? 0) + us);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const n = frameName(byId.get(x)!.callFrame);
      if (seen.has(n)) continue;
      seen.add(n);
      incl.set(n, (incl.get(n) ?? 0) + us);
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({
      name,
      ms: us / 1000,
      percent: (100 * us) / total,
    }));
  return { totalMs: total / 1000, self: sorted(self), inclusive: sorted(incl) };
}

/** Reads every .cpuprofile in a folder and returns the summary text (top `n` of each list). */
export async function profileReport(dir: string, n = 20): Promise<string> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    const s = summarizeProfile(JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`)));
    const busy = s.totalMs - (s.self.find((x) => x.name === "(idle)")?.ms ?? 0);
    out.push(`${dir}/${e.name}: ${s.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy`);
    const line = (x: ProfileEntry) =>
      `${x.ms.toFixed(1).padStart(9)} ms ${x.percent.toFixed(1).padStart(5)}%  ${x.name}`;
    out.push("self time:", ...s.self.slice(0, n).map(line));
    out.push("inclusive time:", ...s.inclusive.slice(0, n).map(line));
  }
  return out.join("\n");
}
