// Moving damaged stored bytes aside instead of destroying them: recovery copies a record it
// will not load into DIR/quarantine/ (one file per record) before it stops using it.
#pragma once

#include <cstdint>
#include <string>

#include "store_io.h"
#include "util.h"

namespace mockcloud {

// Copies `n` bytes at `off` of `fd` (the file `src_path`) to a new file in `qdir` named
// "<basename of src_path>@<offset, 16 hex digits>.rec" (".N" appended when that exists),
// durably (written to a .tmp, fsynced, renamed, directory fsynced). Returns its path.
Result<std::string> CopyToQuarantine(StoreIo* io, int fd, const std::string& src_path,
                                     uint64_t off, uint64_t n, const std::string& qdir);

}  // namespace mockcloud
