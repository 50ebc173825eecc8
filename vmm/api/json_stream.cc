#include "vmm/api/json_stream.h"

namespace wren {

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

void JsonStreamSplitter::finish(std::vector<std::string>& out) {
  out.push_back(overflowed_ ? std::string() : std::move(text_));
  text_.clear();
  depth_ = 0;
  in_string_ = escaped_ = overflowed_ = false;
}

std::vector<std::string> JsonStreamSplitter::feed(std::string_view bytes) {
  std::vector<std::string> out;
  for (const char c : bytes) {
    if (text_.empty() && !overflowed_ && is_space(c)) continue;  // between texts
    if (depth_ == 0 && !in_string_ && is_space(c)) {             // a bare scalar ends
      finish(out);
      continue;
    }
    // Past the limit only the structure is tracked, to find where the text ends.
    if (text_.size() < kMaxText)
      text_.push_back(c);
    else
      overflowed_ = true;
    if (in_string_) {
      if (escaped_)
        escaped_ = false;
      else if (c == '\\')
        escaped_ = true;
      else if (c == '"')
        in_string_ = false;
      continue;
    }
    switch (c) {
      case '"': in_string_ = true; break;
      case '{':
      case '[': ++depth_; break;
      case '}':
      case ']':
        if (--depth_ <= 0) finish(out);  // a stray closer is a text of its own
        break;
      default: break;
    }
  }
  return out;
}

}  // namespace wren
