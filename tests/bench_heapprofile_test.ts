import assert from "node:assert/strict";
import {
  type HeapNode,
  renderHeapSummary,
  summariseHeap,
} from "../bench/lib/heapprofile.ts";

const ROOT = "/repo/";

function node(
  functionName: string,
  url: string,
  selfSize: number,
  children: HeapNode[] = [],
): HeapNode {
  return {
    callFrame: { functionName, url, lineNumber: 9 },
    selfSize,
    children,
  };
}

Deno.test("summariseHeap adds bytes by function and by stack tail, without the inspector's", () => {
  const profile = {
    head: node("(root)", "", 0, [
      node("handle", "file:///repo/src/proxy/handler.ts", 100, [
        node("copyResponseHeaders", "file:///repo/src/proxy/headers.ts", 300),
        node("mainFetch", "ext:deno_fetch/26_fetch.js", 50, [
          node("tee", "ext:deno_web/06_streams.js", 999),
          node("emit", "ext:deno_node/inspector_network_bridge.js", 999),
        ]),
      ]),
      node("copyResponseHeaders", "file:///repo/src/proxy/headers.ts", 200),
    ]),
  };
  const summary = summariseHeap(profile, ROOT, 2);
  assert.equal(summary.totalBytes, 650, "the inspector's 1998 bytes left out");
  assert.deepEqual(summary.functions, [
    { name: "copyResponseHeaders src/proxy/headers.ts:10", bytes: 500 },
    { name: "handle src/proxy/handler.ts:10", bytes: 100 },
    { name: "mainFetch ext:deno_fetch/26_fetch.js:10", bytes: 50 },
  ]);
  assert.deepEqual(summary.stacks[0], {
    name:
      "copyResponseHeaders src/proxy/headers.ts:10 ← handle src/proxy/handler.ts:10",
    bytes: 300,
  });
  const text = renderHeapSummary(summary, 10);
  assert.match(text, /over 10 requests: 65 bytes per request/);
  assert.match(
    text,
    /\| `copyResponseHeaders src\/proxy\/headers.ts:10` \| 50 \|/,
  );
});
