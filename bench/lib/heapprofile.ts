/**
 * Summarises a V8 sampling heap profile (what DevTools'
 * `HeapProfiler.stopSampling` returns): bytes allocated per request by
 * function and by the last frames of the allocating stack. Sampled with
 * `includeObjectsCollectedByMajorGC/MinorGC`, it counts what was allocated,
 * not only what is still alive — the garbage is the cost.
 *
 * @module
 */
import { shortUrl } from "./cpuprofile.ts";
import { table } from "./report.ts";

/** One node of the allocation tree. */
export interface HeapNode {
  callFrame: {
    functionName: string;
    url: string;
    lineNumber: number;
  };
  selfSize: number;
  children: HeapNode[];
}

/** A V8 sampling heap profile. */
export interface HeapProfile {
  head: HeapNode;
}

/** Bytes allocated in one place. */
export interface HeapEntry {
  name: string;
  bytes: number;
}

/** Bytes per function, per stack tail (innermost frame first), and in all. */
export interface HeapSummary {
  totalBytes: number;
  functions: HeapEntry[];
  stacks: HeapEntry[];
}

/** Work the attached inspector itself causes (Deno reports every fetch to it). */
const ARTEFACT = /inspector_network_bridge|drainResponseForInspector|Cdp/;

/** Whether a stack is the inspector's: its own frames, or `fetch` teeing a body for it. */
function isArtefact(path: string[]): boolean {
  return path.some((key, i) =>
    ARTEFACT.test(key) ||
    (key.startsWith("tee ") && path[i - 1]?.startsWith("mainFetch "))
  );
}

/** Aggregates `profile`; a stack tail is the innermost `depth` frames. */
export function summariseHeap(
  profile: HeapProfile,
  root: string,
  depth = 3,
): HeapSummary {
  const functions = new Map<string, number>();
  const stacks = new Map<string, number>();
  let totalBytes = 0;
  const add = (map: Map<string, number>, key: string, bytes: number) =>
    map.set(key, (map.get(key) ?? 0) + bytes);
  const walk = (node: HeapNode, path: string[]) => {
    const f = node.callFrame;
    const where = shortUrl(f.url, root);
    const name = f.functionName || (where ? "(anonymous)" : "(native)");
    const key = where ? `${name} ${where}:${f.lineNumber + 1}` : name;
    const here = [...path, key];
    if (node.selfSize > 0 && !isArtefact(here)) {
      totalBytes += node.selfSize;
      add(functions, key, node.selfSize);
      add(stacks, here.slice(-depth).reverse().join(" ← "), node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  const entries = (map: Map<string, number>) =>
    [...map].map(([name, bytes]) => ({ name, bytes }))
      .sort((a, b) => b.bytes - a.bytes);
  return { totalBytes, functions: entries(functions), stacks: entries(stacks) };
}

/** Markdown: bytes per request in all, by function and by stack tail. */
export function renderHeapSummary(
  summary: HeapSummary,
  requests: number,
  top = 25,
): string {
  const perRequest = (bytes: number) =>
    requests > 0 ? (bytes / requests).toFixed(0) : "—";
  const rows = (entries: HeapEntry[]) =>
    entries.slice(0, top).map((e) => [
      `\`${e.name}\``,
      perRequest(e.bytes),
      `${(e.bytes / summary.totalBytes * 100).toFixed(1)} %`,
    ]);
  return [
    `Allocated ${
      (summary.totalBytes / 1024 / 1024).toFixed(1)
    } MiB (sampled) over ${requests} requests: ${
      perRequest(summary.totalBytes)
    } bytes per request, the inspector's own allocations left out. Line numbers are those of the JavaScript Deno emits.\n`,
    "\n#### Allocated by function\n\n",
    table(["function", "bytes/request", "share"], rows(summary.functions)),
    "\n#### Allocated by stack (innermost frame first)\n\n",
    table(["stack", "bytes/request", "share"], rows(summary.stacks)),
  ].join("");
}
