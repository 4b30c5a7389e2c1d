/**
 * Summarises a V8 `.cpuprofile` (what DevTools' Profiler.stop returns):
 * self and total time per function, and self time per file.
 *
 * @module
 */
import { table } from "./report.ts";

/** One node of the sampled call tree. */
export interface ProfileNode {
  id: number;
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
    columnNumber: number;
  };
  hitCount?: number;
  children?: number[];
}

/** A V8 CPU profile; times in µs. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Time spent in one function (or file), µs and share of all samples. */
export interface Entry {
  name: string;
  selfUs: number;
  totalUs: number;
}

/** Self and total time per function, self time per file. */
export interface ProfileSummary {
  totalUs: number;
  functions: Entry[];
  files: Entry[];
}

/** Shortens a script URL: repository paths relative, npm packages by name. */
export function shortUrl(url: string, root: string): string {
  if (url === "") return "";
  const rootUrl = `file://${root}`;
  if (url.startsWith(rootUrl)) return url.slice(rootUrl.length);
  const npm = /\/npm\/registry\.npmjs\.org\/(.+)$/.exec(url);
  if (npm) return `npm:${npm[1]}`;
  return url.replace(/^file:\/\//, "");
}

/** Aggregates `profile` by function (name + location) and by file. */
export function summariseProfile(
  profile: CpuProfile,
  root: string,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length > 0) {
    for (let i = 0; i < samples.length; i++) {
      // A sample's time is the gap to the next one.
      const us = deltas[i + 1] ?? deltas[i] ?? 0;
      self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, us));
    }
  } else {
    const total = profile.endTime - profile.startTime;
    const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
    for (const n of profile.nodes) {
      self.set(n.id, hits ? (n.hitCount ?? 0) / hits * total : 0);
    }
  }
  const keyOf = (n: ProfileNode) => {
    const f = n.callFrame;
    const where = shortUrl(f.url, root);
    const name = f.functionName || (where ? "(anonymous)" : "(native)");
    return where ? `${name} ${where}:${f.lineNumber + 1}` : name;
  };
  const fileOf = (n: ProfileNode) =>
    shortUrl(n.callFrame.url, root) || keyOf(n);

  const functions = new Map<string, Entry>();
  const files = new Map<string, Entry>();
  const entry = (map: Map<string, Entry>, name: string) => {
    let e = map.get(name);
    if (!e) map.set(name, e = { name, selfUs: 0, totalUs: 0 });
    return e;
  };
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) parentOf.set(c, n.id);
  }
  const rootNode = profile.nodes.find((n) => !parentOf.has(n.id));
  let totalUs = 0;
  // Depth-first with the keys on the stack, so recursion counts once in totals.
  const subtree = (id: number, onStack: Map<string, number>): number => {
    const n = byId.get(id)!;
    const key = keyOf(n);
    const own = self.get(id) ?? 0;
    totalUs += own;
    entry(functions, key).selfUs += own;
    entry(files, fileOf(n)).selfUs += own;
    onStack.set(key, (onStack.get(key) ?? 0) + 1);
    let sum = own;
    for (const c of n.children ?? []) sum += subtree(c, onStack);
    const depth = onStack.get(key)! - 1;
    if (depth === 0) {
      onStack.delete(key);
      entry(functions, key).totalUs += sum;
    } else {
      onStack.set(key, depth);
    }
    return sum;
  };
  if (rootNode) subtree(rootNode.id, new Map());
  return {
    totalUs,
    functions: [...functions.values()],
    files: [...files.values()],
  };
}

const IDLE = new Set(["(idle)", "(root)", "(program)"]);
/** Work the attached inspector itself causes (Deno reports every fetch to it). */
const ARTEFACT = /op_inspector_emit_protocol_event|inspector_network_bridge/;

function skipped(e: Entry): boolean {
  return IDLE.has(e.name) || ARTEFACT.test(e.name);
}

/** Markdown: top self time, top total time of the repository's code, self time per file. */
export function renderSummary(summary: ProfileSummary, top = 25): string {
  const busy = summary.functions
    .filter((e) => !skipped(e))
    .reduce((a, e) => a + e.selfUs, 0);
  const artefacts = summary.functions
    .filter((e) => ARTEFACT.test(e.name))
    .reduce((a, e) => a + e.selfUs, 0);
  const pct = (us: number) => `${(us / summary.totalUs * 100).toFixed(1)} %`;
  const ms = (us: number) => (us / 1000).toFixed(0);
  const idle = summary.functions.filter((e) => IDLE.has(e.name));
  const lines = [
    `Sampled ${ms(summary.totalUs)} ms; busy ${ms(busy)} ms (${pct(busy)}); ${
      idle.map((e) => `${e.name} ${pct(e.selfUs)}`).join(", ")
    }; ` +
    `inspector overhead (left out below, but inside the totals of fetch) ${
      pct(artefacts)
    }. Line numbers are those of the JavaScript Deno emits, not of the .ts source.\n`,
    "\n#### Top self time\n\n",
    table(
      ["function", "self (ms)", "self", "total (ms)"],
      [...summary.functions]
        .filter((e) => !skipped(e))
        .sort((a, b) => b.selfUs - a.selfUs)
        .slice(0, top)
        .map((
          e,
        ) => [`\`${e.name}\``, ms(e.selfUs), pct(e.selfUs), ms(e.totalUs)]),
    ),
    "\n#### Top total time, flow-proxy's own code (src/, main.ts)\n\n",
    table(
      ["function", "total (ms)", "total", "self (ms)"],
      [...summary.functions]
        .filter((e) => / (src\/|main\.ts)/.test(e.name))
        .sort((a, b) => b.totalUs - a.totalUs)
        .slice(0, top)
        .map((
          e,
        ) => [`\`${e.name}\``, ms(e.totalUs), pct(e.totalUs), ms(e.selfUs)]),
    ),
    "\n#### Self time per file\n\n",
    table(
      ["file", "self (ms)", "self"],
      [...summary.files]
        .filter((e) => !skipped(e))
        .sort((a, b) => b.selfUs - a.selfUs)
        .slice(0, top)
        .map((e) => [`\`${e.name}\``, ms(e.selfUs), pct(e.selfUs)]),
    ),
  ];
  return lines.join("");
}
