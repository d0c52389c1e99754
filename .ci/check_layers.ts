/**
 * Checks the import graph against the layer order written in docs/ARCHITECTURE.md (the fenced
 * block after "## Layers"): an area of `lib/` imports only areas of lower layers, and only
 * through their `mod.ts`; `main.ts` imports only `lib/cli/mod.ts` and `lib/config/mod.ts`.
 * Run by `deno task check`; exits 1 listing every import that breaks the order.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** One import that breaks the layer order. */
interface Violation {
  file: string;
  line: number;
  target: string;
  why: string;
}

/** Reads the layer table: one line per layer, lowest first, `N: area area ...`. */
function readLayers(): Map<string, number> {
  const doc = Deno.readTextFileSync(join(root, "docs/ARCHITECTURE.md"));
  const section = doc.split("## Layers")[1];
  const block = section?.match(/```\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error("docs/ARCHITECTURE.md: no fenced layer table after '## Layers'");
  const layers = new Map<string, number>();
  for (const raw of block.split("\n")) {
    const m = raw.match(/^\s*(\d+):\s*(.+?)\s*(#.*)?$/);
    if (!m) continue;
    for (const area of m[2].split(/\s+/)) layers.set(area, Number(m[1]));
  }
  return layers;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* sourceFiles(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

/** Relative import specifiers of a file with their line numbers. */
function importsOf(text: string): { spec: string; line: number }[] {
  const found: { spec: string; line: number }[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"(\.{1,2}\/[^"]+)"/g;
  for (const m of text.matchAll(re)) {
    found.push({ spec: m[1], line: text.slice(0, m.index).split("\n").length });
  }
  return found;
}

/** The area of a path under lib/ (`lib/dns/mx.ts` → `dns`), or null outside lib/. */
function areaOf(path: string): string | null {
  const rel = relative(join(root, "lib"), path);
  if (rel.startsWith("..")) return null;
  const parts = rel.split("/");
  return parts.length > 1 ? parts[0] : null;
}

function check(): Violation[] {
  const layers = readLayers();
  const bad: Violation[] = [];
  const files = [...sourceFiles(join(root, "lib")), join(root, "main.ts"), join(root, "mod.ts")];
  for (const file of files) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    const from = areaOf(file);
    const fromRel = relative(root, file);
    if (from !== null && !layers.has(from)) {
      bad.push({ file: fromRel, line: 1, target: from, why: `area "${from}" has no layer` });
      continue;
    }
    for (const { spec, line } of importsOf(text)) {
      const target = resolve(dirname(file), spec);
      const to = areaOf(target);
      const targetRel = relative(root, target);
      if (to === null || to === from) continue;
      const entry = relative(join(root, "lib", to), target);
      if (entry !== "mod.ts") {
        bad.push({ file: fromRel, line, target: targetRel, why: `goes around lib/${to}/mod.ts` });
      }
      if (from === null) continue; // main.ts and mod.ts sit above every layer
      const lf = layers.get(from)!;
      const lt = layers.get(to);
      if (lt === undefined) {
        bad.push({ file: fromRel, line, target: targetRel, why: `area "${to}" has no layer` });
      } else if (lt >= lf) {
        bad.push({
          file: fromRel,
          line,
          target: targetRel,
          why: `${from} (layer ${lf}) may not import ${to} (layer ${lt})`,
        });
      }
    }
  }
  return bad;
}

/**
 * Runtime import cycles between files of lib/. `import type` edges are left out: TypeScript
 * erases them, and a verb handler naming the `Session` type it serves is not a cycle.
 */
function cycles(): Violation[] {
  const graph = new Map<string, string[]>();
  const valueImport =
    /(?:\bexport\s*(?:\*|\{[^}]*\})\s*from\s*|\bimport\s+(?!type\b)[^"]*?from\s*|\bimport\s*\(\s*)"(\.{1,2}\/[^"]+)"/g;
  for (const file of sourceFiles(join(root, "lib"))) {
    const text = Deno.readTextFileSync(file);
    const targets = [...text.matchAll(valueImport)].map((m) => resolve(dirname(file), m[1]));
    graph.set(file, targets);
  }
  const bad: Violation[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === "open") {
        const loop = [...stack.slice(stack.indexOf(t)), t].map((x) => relative(root, x));
        bad.push({ file: loop[0], line: 1, target: loop[1], why: `cycle: ${loop.join(" -> ")}` });
      } else if (!state.has(t) && graph.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return bad;
}

if (import.meta.main) {
  const bad = [...check(), ...cycles()];
  for (const v of bad) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`${v.file}:${v.line}: import of ${v.target}: ${v.why}\n`),
    );
  }
  if (bad.length) Deno.exit(1);
}
