#include "vmm/api/json_stream.h"

#include <gtest/gtest.h>

namespace wren {
namespace {

using Texts = std::vector<std::string>;

TEST(JsonStreamSplitter, SplitsAtTheCloseOfEachTopLevelValue) {
  JsonStreamSplitter s;
  EXPECT_EQ(s.feed(R"({"a":1}{"b":[1,{"c":2}]} [3])"), (Texts{R"({"a":1})", R"({"b":[1,{"c":2}]})", "[3]"}));
}

TEST(JsonStreamSplitter, IgnoresBracketsAndEscapedQuotesInStrings) {
  JsonStreamSplitter s;
  EXPECT_EQ(s.feed(R"({"s":"}\"{]"} )"), (Texts{R"({"s":"}\"{]"})"}));
  EXPECT_EQ(s.feed(R"({"s":"\\"})"), (Texts{R"({"s":"\\"})"}));  // an escaped backslash ends the escape
}

TEST(JsonStreamSplitter, KeepsPartialTextsAcrossFeeds) {
  JsonStreamSplitter s;
  const std::string text = R"({"execute":"query-status","arguments":{"x":"}"}})";
  Texts got;
  for (char c : text)
    for (auto& t : s.feed(std::string(1, c))) got.push_back(t);
  EXPECT_EQ(got, Texts{text});
}

TEST(JsonStreamSplitter, BareScalarsEndAtWhitespaceAndStrayClosersStandAlone) {
  JsonStreamSplitter s;
  EXPECT_EQ(s.feed("42 \"x\"\n"), (Texts{"42", "\"x\""}));
  EXPECT_EQ(s.feed("}"), Texts{"}"});
  EXPECT_EQ(s.feed(R"({"a":1})"), Texts{R"({"a":1})"});  // and the stream goes on
}

TEST(JsonStreamSplitter, OversizedTextComesBackEmptyAndTheStreamRecovers) {
  JsonStreamSplitter s;
  std::string big = R"({"s":")" + std::string(JsonStreamSplitter::kMaxText, 'x') + R"("})";
  EXPECT_EQ(s.feed(big), Texts{""});
  EXPECT_EQ(s.feed(R"({"a":1})"), Texts{R"({"a":1})"});
}

}  // namespace
}  // namespace wren
