// litevfs in a dedicated Worker: litevfs-core.wasm (SQLite + the litevfs VFS) reads pages
// with synchronous fetch, which browsers allow only off the main thread. Messages in:
// {id, op: "open"|"query"|"stats"|"close", args}; out: {id, result} or {id, error}.
"use strict";
let resolveReady;
const ready = new Promise((resolve) => { resolveReady = resolve; });
self.Module = { onRuntimeInitialized: () => resolveReady() };
importScripts("litevfs-core.js");

const S = "string", N = "number";
const ops = {
  open: ({ host, token, cluster, name, freshMs }) =>
    Module.ccall("lv_open", S, [S, S, S, S, N],
                 [host || self.location.origin, token || "", cluster || "", name,
                  freshMs === undefined ? -1 : freshMs]),
  query: ({ handle, sql }) => Module.ccall("lv_query", S, [N, S], [handle, sql]),
  stats: ({ handle }) => Module.ccall("lv_stats", S, [N], [handle]),
  close: ({ handle }) => Module.ccall("lv_close", S, [N], [handle]),
};

// Bytes on the wire (before the browser decoded any Content-Encoding), from Resource Timing.
let wireBytes = 0;
function addWireBytes(stats) {
  for (const t of performance.getEntriesByType("resource")) wireBytes += t.encodedBodySize || 0;
  performance.clearResourceTimings();
  if (stats) stats.wire_bytes = wireBytes;
}

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  await ready;
  try {
    if (!ops[op]) throw new Error("litevfs worker: unknown operation " + op);
    const result = JSON.parse(ops[op](args));
    addWireBytes(result.stats || (op === "close" ? null : result));
    if (result.error !== undefined) self.postMessage({ id, error: result.error });
    else self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
