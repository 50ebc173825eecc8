#pragma once
// Splits a QMP byte stream into JSON texts. QMP is a stream of JSON values,
// not lines: a client may send `{"execute":"stop"}` with no newline and wait
// for the reply (go-qemu does), so a text ends where its outermost object or
// array closes. Brackets inside strings (with escapes) do not count.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wren {

class JsonStreamSplitter {
 public:
  // A text longer than this is dropped and reported as an error text "".
  static constexpr size_t kMaxText = 1 << 20;

  // Feeds bytes; returns every text completed by them, in order. A bare
  // scalar outside any bracket ends at whitespace and is returned as is (the
  // caller rejects it as "not an object"); an oversized text comes back as "".
  std::vector<std::string> feed(std::string_view bytes);

 private:
  void finish(std::vector<std::string>& out);

  std::string text_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool overflowed_ = false;
};

}  // namespace wren
