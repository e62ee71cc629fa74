// litevfs in the browser: a read-only SQLite database paged in from a litevfs / LiteFS Cloud
// server, running in a dedicated Worker (litevfs-worker.js). Every call returns a Promise.
//
//   const db = await litevfs.open("mydb", {host: "", token: "", cluster: ""});
//   const {columns, rows} = await db.query("SELECT * FROM t WHERE id = 42");
//   await db.exec("PRAGMA cache_size = -2000");   // no rows wanted
//   const stats = await db.stats();   // {requests, bytes, pages, syncs, pos, ...}
//   await db.close();
//
// host "" (the default) is the page's own origin: serve the page from the server
// (litevfs-mockcloud --web DIR), or start the server with --cors-origin. Each statement
// sees one position of the remote database; a transaction start moves to the latest one
// (freshMs: a start within that many ms of the last sync reuses it; default 250). Pages
// are kept in the browser's Origin Private File System (up to 256 MiB a database) and
// reused after a reload once a sync says which changed; persist: false keeps them in
// memory only (so does a browser without OPFS, or a database open in another tab).
"use strict";
(function (global) {
  const here = (document.currentScript && document.currentScript.src) || global.location.href;

  class Database {
    constructor(worker, handle, openStats) {
      this._worker = worker;
      this._handle = handle;
      this.openStats = openStats;
    }
    query(sql) { return this._worker.call("query", { handle: this._handle, sql }); }
    async exec(sql) { await this.query(sql); }
    stats() { return this._worker.call("stats", { handle: this._handle }); }
    async close() {
      await this._worker.call("close", { handle: this._handle });
      this._worker.terminate();
    }
  }

  class WorkerClient {
    constructor(url) {
      this._w = new Worker(url);
      this._next = 1;
      this._waiting = new Map();
      this._w.onmessage = (e) => {
        const p = this._waiting.get(e.data.id);
        this._waiting.delete(e.data.id);
        if (e.data.error !== undefined) p.reject(new Error(e.data.error));
        else p.resolve(e.data.result);
      };
      this._w.onerror = (e) => {
        for (const p of this._waiting.values()) p.reject(new Error("litevfs worker: " + e.message));
        this._waiting.clear();
      };
    }
    call(op, args) {
      const id = this._next++;
      return new Promise((resolve, reject) => {
        this._waiting.set(id, { resolve, reject });
        this._w.postMessage({ id, op, args });
      });
    }
    terminate() { this._w.terminate(); }
  }

  async function open(name, opts = {}) {
    const worker = new WorkerClient(opts.workerUrl || new URL("litevfs-worker.js", here).href);
    try {
      const r = await worker.call("open", { name, host: opts.host, token: opts.token,
                                            cluster: opts.cluster, freshMs: opts.freshMs,
                                            persist: opts.persist });
      return new Database(worker, r.handle, r);
    } catch (err) {
      worker.terminate();
      throw err;
    }
  }

  global.litevfs = { open };
})(window);
