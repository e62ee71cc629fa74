// Fuzzes what the mockcloud takes from the outside: request parameters (names, positions,
// page lists, durations, fault specs) and uploaded LTX bodies, which go through the full
// verify-then-commit path of Database::Apply against a small existing database. Nothing may
// crash, and a body that is accepted must leave a database whose pages read back.
//
// Input: byte 0 selects the target; the rest is the payload.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "../../mockcloud/src/faults.h"
#include "../../mockcloud/src/store.h"
#include "../../mockcloud/src/util.h"
#include "ltx/checksum.h"
#include "ltx/encoder.h"
#include "ltx/io.h"

namespace {

struct Env {
  std::string root;
  mockcloud::StoreOptions opts;
  Env() {
    // Every input gets a fresh store, which fsyncs as it is created: on tmpfs that is free
    // (hundreds of inputs a second instead of a few dozen).
    std::string tmpl = access("/dev/shm", W_OK) == 0 ? "/dev/shm/mockcloud-fuzz-XXXXXX"
                                                     : "/tmp/mockcloud-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) abort();
    root = tmpl;
    opts.data_dir = root + "/data";
  }
};

Env& env() {
  static Env* e = [] {
    Env* created = new Env();
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(env().root, ec);
    });
    return created;
  }();
  return *e;
}

// A fresh store holding database "db" at txid 1 (3 pages of 512 bytes).
std::unique_ptr<mockcloud::Store> FreshStore() {
  std::error_code ec;
  std::filesystem::remove_all(env().opts.data_dir, ec);
  auto s = mockcloud::Store::Open(env().opts);
  if (!s.ok()) abort();
  auto db = (*s)->Get("default", "db", true);
  if (!db.ok()) abort();
  ltx::Header h;
  h.page_size = 512;
  h.commit = 3;
  h.min_txid = h.max_txid = 1;
  std::string snap;
  ltx::StringSink sink(&snap);
  auto enc = ltx::Encoder::Open(&sink, h);
  if (!enc.ok()) abort();
  ltx::DatabaseChecksum c;
  for (uint32_t p = 1; p <= 3; p++) {
    std::string page(512, char('a' + p));
    std::span<const uint8_t> sp(reinterpret_cast<const uint8_t*>(page.data()), page.size());
    c.Toggle(ltx::PageChecksum(p, sp));
    if (!(*enc)->AddPage(p, sp).ok()) abort();
  }
  if (!(*enc)->Finish(c.value()).ok()) abort();
  auto body = ltx::MemorySource({reinterpret_cast<const uint8_t*>(snap.data()), snap.size()});
  if (!(*db)->Apply(std::move(body), [] { return ltx::Status::OK(); }).ok()) abort();
  return std::move(s).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      (void)mockcloud::ValidateName(in, "db");
      (void)mockcloud::ParsePosParam(in);
      (void)mockcloud::ParseDurationMs(in);
      std::string host;
      int port;
      (void)mockcloud::ParseListen(in, &host, &port);
      break;
    }
    case 1: {
      auto l = mockcloud::ParsePgnoList(in, 4096);
      if (l.ok()) {
        for (size_t i = 1; i < l->size(); i++) {
          if ((*l)[i - 1] >= (*l)[i]) abort();  // sorted, unique
        }
        if (l->size() > 4096) abort();
      }
      break;
    }
    case 2: {
      auto f = mockcloud::ParseFaultSpec(in);
      if (f.ok()) {
        auto again = mockcloud::ParseFaultSpec(mockcloud::FormatFaultSpec(*f));
        if (!again.ok()) abort();  // what we print we must parse
      }
      break;
    }
    default: {
      auto store = FreshStore();
      auto db = store->Get("default", "db", false);
      if (!db.ok() || !*db) abort();
      auto r = (*db)->Apply(
          ltx::MemorySource({reinterpret_cast<const uint8_t*>(in.data()), in.size()}),
          [] { return ltx::Status::OK(); });
      if (r.ok()) {
        if (!((*db)->pos() == r->pos)) abort();
        auto pages = (*db)->ReadPages(r->pos, {1, 2, 3, 4, 5});
        if (!pages.ok()) abort();
        auto snap = mockcloud::Store::Open(env().opts);  // recovery must accept what we acked
        if (!snap.ok()) abort();
      }
      break;
    }
  }
  return 0;
}
