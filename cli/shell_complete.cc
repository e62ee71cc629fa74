#include "shell_complete.h"

#include <editline/readline.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <set>

namespace cli {
namespace {

const char* const kDotCommands[] = {
    ".backup", ".databases", ".dump",      ".exit", ".headers", ".help", ".import", ".indexes",
    ".lease",  ".mode",      ".nullvalue", ".once", ".output",  ".pos",  ".quit",   ".read",
    ".schema", ".show",      ".stats",     ".sync", ".tables",  ".timer"};

bool StartsWithNoCase(const std::string& s, const std::string& prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

// Runs a one-column query; rows whose value is NULL are skipped. Errors give no rows (a
// completion must never disturb the line being edited).
void CollectColumn(sqlite3* db, const char* sql, int col, std::set<std::string>* out) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return;
  }
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(stmt, col);
    if (t) out->insert(reinterpret_cast<const char*>(t));
  }
  sqlite3_finalize(stmt);
}

sqlite3* g_db = nullptr;
std::vector<std::string> g_matches;
size_t g_next = 0;

char* Generator(const char* text, int state) {
  if (state == 0) g_next = 0;  // g_matches was filled by Attempt for this text
  (void)text;
  if (g_next >= g_matches.size()) return nullptr;
  return strdup(g_matches[g_next++].c_str());
}

char** Attempt(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  std::string prefix(text ? text : "");
  bool line_start = true;
  for (int i = 0; i < start && rl_line_buffer && rl_line_buffer[i]; ++i) {
    if (!std::isspace(static_cast<unsigned char>(rl_line_buffer[i]))) line_start = false;
  }
  // The word before this one (for "FROM <Tab>" and the like).
  std::string prev;
  if (rl_line_buffer) {
    int i = start - 1;
    while (i >= 0 && std::isspace(static_cast<unsigned char>(rl_line_buffer[i]))) --i;
    int e = i + 1;
    while (i >= 0 && (std::isalnum(static_cast<unsigned char>(rl_line_buffer[i])) ||
                      rl_line_buffer[i] == '_')) {
      --i;
    }
    prev.assign(rl_line_buffer + i + 1, size_t(e - i - 1));
  }
  // A dot-command word: the break characters do not include '.', so ".ta" arrives whole.
  g_matches = CompletionCandidates(g_db, prefix, line_start, prev);
  if (g_matches.empty()) return nullptr;
  return rl_completion_matches(text, Generator);
}

}  // namespace

std::vector<std::string> CompletionCandidates(sqlite3* db, const std::string& prefix,
                                              bool line_start, const std::string& prev_word) {
  std::vector<std::string> out;
  if (line_start && !prefix.empty() && prefix[0] == '.') {
    for (const char* d : kDotCommands) {
      if (StartsWithNoCase(d, prefix)) out.emplace_back(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string prev;
  for (char c : prev_word) prev += char(std::toupper(static_cast<unsigned char>(c)));
  const bool tables_only =
      prev == "FROM" || prev == "JOIN" || prev == "INTO" || prev == "UPDATE" || prev == "TABLE";
  std::set<std::string> names;
  if (db) {
    CollectColumn(db,
                  "SELECT name FROM sqlite_schema WHERE type IN ('table','view') "
                  "AND name NOT LIKE 'sqlite_%'",
                  0, &names);
  }
  if (tables_only) {
    for (const auto& n : names) {
      if (StartsWithNoCase(n, prefix)) out.push_back(n);
    }
    return out;
  }
  if (db) {
    CollectColumn(db,
                  "SELECT DISTINCT p.name FROM sqlite_schema AS s, pragma_table_info(s.name) AS p "
                  "WHERE s.type IN ('table','view') AND s.name NOT LIKE 'sqlite_%'",
                  0, &names);
  }
  for (const auto& n : names) {
    if (StartsWithNoCase(n, prefix)) out.push_back(n);
  }
  bool lower = !prefix.empty() && std::islower(static_cast<unsigned char>(prefix[0]));
  std::set<std::string> kw;
  for (int i = 0; i < sqlite3_keyword_count(); ++i) {
    const char* k = nullptr;
    int n = 0;
    if (sqlite3_keyword_name(i, &k, &n) != SQLITE_OK) continue;
    std::string w(k, size_t(n));
    if (!StartsWithNoCase(w, prefix)) continue;
    if (lower) {
      for (char& c : w) c = char(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!names.count(w)) kw.insert(w);
  }
  out.insert(out.end(), kw.begin(), kw.end());
  return out;
}

void InstallCompletion(sqlite3* db) {
  g_db = db;
  rl_readline_name = "litevfs";
  rl_attempted_completion_function = Attempt;
  // '.' is not a break character so dot-commands complete as one word.
  rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(,";
}

}  // namespace cli
