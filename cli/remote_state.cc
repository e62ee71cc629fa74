#include "remote_state.h"

#include "errors.h"
#include "ltx/coding.h"

namespace cli {
namespace {
// SQLite's database header (https://sqlite.org/fileformat.html#the_database_header).
// TODO(core): use the shared SQLite file-format header once it exists (issue 16).
constexpr size_t kSqliteHeaderSize = 100;
constexpr size_t kSqlitePageCountOffset = 28;  // u32 big-endian: the database size in pages
}  // namespace

RemoteState GetRemoteState(litevfs::Client& client, const std::string& db) {
  auto sr = client.Sync(db, ltx::Pos{});
  if (!sr.ok()) throw CliError(Describe(sr.status(), db));
  if (sr->pos.IsZero()) throw CliError(db + ": no such database");
  RemoteState st;
  st.pos = sr->pos;
  st.commit = sr->commit;
  if (st.commit == 0) {
    // Older servers do not report the size: page 1's header has it.
    auto b = client.GetPages(db, st.pos, {1});
    if (!b.ok()) throw CliError(Describe(b.status(), db + ": read page 1"));
    if (b->pages.empty() || b->pages[0].second.size() < kSqliteHeaderSize) {
      throw CliError(db + ": server returned no page 1");
    }
    st.commit = ltx::DecodeU32(reinterpret_cast<const uint8_t*>(b->pages[0].second.data()) +
                               kSqlitePageCountOffset);
  }
  return st;
}

}  // namespace cli
