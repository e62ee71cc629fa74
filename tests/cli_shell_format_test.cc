// The pure parts of `litevfs shell` output and input: the CSV reader behind .import and
// DisplayLines (table mode's multi-line cells). The two sources are compiled in here, as
// cli_* tests link no CLI library.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../cli/shell_csv.cc"
#include "../cli/shell_output.cc"

namespace cli {
namespace {

using Rows = std::vector<std::vector<std::string>>;

// All records of `text`, or the reader's error prefixed with "error: ".
Rows ReadAll(const std::string& text, std::string* error) {
  FILE* f = fmemopen(const_cast<char*>(text.data()), text.size(), "rb");
  if (text.empty()) f = std::fopen("/dev/null", "rb");
  CsvReader r(f);
  Rows rows;
  std::vector<std::string> row;
  while (r.Next(&row)) rows.push_back(row);
  *error = r.error();
  std::fclose(f);
  return rows;
}

TEST(CsvReader, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  std::string err;
  Rows rows = ReadAll("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",\"\"\n", &err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(rows, (Rows{{"a", "b"}, {"x, y", "say \"hi\""}, {"two\nlines", ""}}));
}

TEST(CsvReader, LastRecordWithoutNewlineAndEmptyFields) {
  std::string err;
  EXPECT_EQ(ReadAll("1,,3\n,,\n4,5,6", &err),
            (Rows{{"1", "", "3"}, {"", "", ""}, {"4", "5", "6"}}));
  EXPECT_EQ(err, "");
  EXPECT_EQ(ReadAll("", &err), Rows{});
  EXPECT_EQ(err, "");
}

TEST(CsvReader, SkipsAByteOrderMark) {
  std::string err;
  EXPECT_EQ(ReadAll("\xEF\xBB\xBFid\n7\n", &err), (Rows{{"id"}, {"7"}}));
  // A first character that merely starts like the mark (U+FF01) is data.
  EXPECT_EQ(ReadAll("\xEF\xBC\x81,x\n", &err), (Rows{{"\xEF\xBC\x81", "x"}}));
  EXPECT_EQ(err, "");
}

TEST(CsvReader, MalformedQuotesNameTheLine) {
  std::string err;
  ReadAll("a\nb\n\"open\nstill open\n", &err);
  EXPECT_EQ(err, "line 3: a quoted field starts here and never ends (a missing closing \")");
  ReadAll("a,b\n\"x\"y,z\n", &err);
  EXPECT_EQ(err,
            "line 2: 'y' after a closing quote (a quote inside a quoted field must be doubled)");
}

TEST(CsvReader, RecordLineIsWhereTheRecordStarts) {
  FILE* f = fmemopen(const_cast<char*>("a\n\"b\nc\"\nd\n"), 10, "rb");
  CsvReader r(f);
  std::vector<std::string> row;
  std::vector<long> lines;
  while (r.Next(&row)) lines.push_back(r.record_line());
  std::fclose(f);
  EXPECT_EQ(lines, (std::vector<long>{1, 2, 4}));
}

TEST(DisplayLines, SplitsExpandsAndEscapes) {
  EXPECT_EQ(DisplayLines("a\nb"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(DisplayLines("a\r\nb\rc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(DisplayLines("ab\tc"), (std::vector<std::string>{"ab      c"}));
  EXPECT_EQ(DisplayLines("\xC3\xA9\tx"), (std::vector<std::string>{"\xC3\xA9       x"}));
  EXPECT_EQ(DisplayLines("x\x1b[2J"), (std::vector<std::string>{"x^[[2J"}));
  EXPECT_EQ(DisplayLines(""), (std::vector<std::string>{""}));
}

}  // namespace
}  // namespace cli
