// Tab completion for the interactive `litevfs shell`: SQL keywords, table and view names,
// column names and dot-commands. Pure candidate selection lives in CompletionCandidates
// (testable without a terminal); InstallCompletion wires it into libedit's readline API.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

namespace cli {

// The words that complete `prefix` (case-insensitive prefix match). `line_start` is true
// when the word begins the line (dot-commands complete only there). Keywords keep the
// case of the prefix (lower-case prefix → lower-case keyword); names are returned as stored.
// `prev_word` is the word before it: after FROM, JOIN, INTO, UPDATE or TABLE only table and
// view names are offered.
std::vector<std::string> CompletionCandidates(sqlite3* db, const std::string& prefix,
                                              bool line_start, const std::string& prev_word);

// Makes Tab complete with CompletionCandidates on `db` (which must outlive the readline loop).
void InstallCompletion(sqlite3* db);

}  // namespace cli
