#include "remote_state.h"

#include <span>

#include "errors.h"
#include "vfs/src/sqlite_format.h"

namespace cli {

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
    if (b->pages.empty() || b->pages[0].second.size() < litevfs::sqlite_format::kHeaderSize) {
      throw CliError(db + ": server returned no page 1");
    }
    const std::string& page1 = b->pages[0].second;
    st.commit = litevfs::sqlite_format::HeaderDatabaseSize(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(page1.data()), page1.size()));
  }
  return st;
}

}  // namespace cli
