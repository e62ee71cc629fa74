// litevfs in a dedicated Worker: litevfs-core.wasm (SQLite + the litevfs VFS) reads pages
// with synchronous fetch, which browsers allow only off the main thread. Messages in:
// {id, op: "open"|"query"|"stats"|"close", args}; out: {id, result} or {id, error}.
"use strict";
let resolveReady;
const ready = new Promise((resolve) => { resolveReady = resolve; });
self.Module = { onRuntimeInitialized: () => resolveReady() };
importScripts("litevfs-core.js");

// The persistent cache (page_store.h): per open database, two OPFS files held through
// FileSystemSyncAccessHandles, whose read/write are synchronous here. Opening them is async,
// so it happens before lv_open, which takes the pending pair (lv_store_take).
const OPFS_DIR = "litevfs";
const OPFS_OPEN_TRIES = 20;       // a reloaded page's old Worker may still hold the files...
const OPFS_RETRY_MS = 100;        // ...for a moment: retry, bounded, then memory only
self.litevfsStores = {
  pending: null,
  next: 1,
  open: new Map(),
  take() {
    const s = this.pending;
    this.pending = null;
    if (!s) return 0;
    const id = this.next++;
    this.open.set(id, s);
    return id;
  },
  readMeta(id, view) {
    const h = this.open.get(id).meta;
    const n = h.getSize();
    return n > view.length ? -1 : h.read(view.subarray(0, n), { at: 0 });
  },
  writeMeta(id, view) {
    const h = this.open.get(id).meta;
    h.truncate(0);
    const n = h.write(view, { at: 0 });
    h.flush();
    return n;
  },
  readPages(id, off, view) { return this.open.get(id).pages.read(view, { at: off }); },
  writePages(id, off, view) { return this.open.get(id).pages.write(view, { at: off }); },
  close(id) {
    const s = this.open.get(id);
    this.open.delete(id);
    if (s) { s.pages.close(); s.meta.close(); }
  },
};

// The OPFS pair for one (host, cluster, database), or null (no OPFS: memory only).
async function openStore(key) {
  if (!(self.navigator && navigator.storage && navigator.storage.getDirectory)) return null;
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle(OPFS_DIR, { create: true });
  for (let i = 0; i < OPFS_OPEN_TRIES; i++) {
    let pages = null;
    try {
      pages = await (await dir.getFileHandle(key + ".pages", { create: true })).createSyncAccessHandle();
      const meta = await (await dir.getFileHandle(key + ".meta", { create: true })).createSyncAccessHandle();
      return { pages, meta };
    } catch (err) {
      if (pages) pages.close();
      if (err.name !== "NoModificationAllowedError") throw err;
      await new Promise((r) => setTimeout(r, OPFS_RETRY_MS));
    }
  }
  return null;  // another tab keeps it open
}

const S = "string", N = "number";
const ops = {
  open: async ({ host, token, cluster, name, freshMs, persist }) => {
    host = host || self.location.origin;
    const key = encodeURIComponent([host, cluster || "", name].join("|"));
    self.litevfsStores.pending = persist === false ? null : await openStore(key);
    try {
      return Module.ccall("lv_open", S, [S, S, S, S, N],
                          [host, token || "", cluster || "", name, freshMs === undefined ? -1 : freshMs]);
    } finally {
      const left = self.litevfsStores.pending;  // not taken: lv_open failed before the cache
      self.litevfsStores.pending = null;
      if (left) { left.pages.close(); left.meta.close(); }
    }
  },
  query: ({ handle, sql }) => Module.ccall("lv_query", S, [N, S], [handle, sql]),
  stats: ({ handle }) => Module.ccall("lv_stats", S, [N], [handle]),
  close: ({ handle }) => Module.ccall("lv_close", S, [N], [handle]),
};

// Bytes on the wire (before the browser decoded any Content-Encoding), from Resource Timing.
let wireBytes = 0;
function addWireBytes(stats) {
  for (const t of performance.getEntriesByType("resource")) {
    if (t.initiatorType === "xmlhttprequest") wireBytes += t.encodedBodySize || 0;  // not the wasm
  }
  performance.clearResourceTimings();
  if (stats) stats.wire_bytes = wireBytes;
}

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  await ready;
  try {
    if (!ops[op]) throw new Error("litevfs worker: unknown operation " + op);
    const result = JSON.parse(await ops[op](args));
    addWireBytes(result.stats || (op === "close" ? null : result));
    if (result.error !== undefined) self.postMessage({ id, error: result.error });
    else self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message || err) });
  }
};
