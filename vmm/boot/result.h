#pragma once
// A value or a human-readable error message. C++20 has no std::expected; this
// is the small subset the boot code needs. Reading value() of a failed result
// is a programming error and throws std::logic_error.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace wren {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    if (!ok()) throw std::logic_error("Result::value() on an error: " + error());
    return std::get<0>(v_);
  }
  T& value() & {
    if (!ok()) throw std::logic_error("Result::value() on an error: " + error());
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw std::logic_error("Result::value() on an error: " + error());
    return std::get<0>(std::move(v_));
  }
  const T* operator->() const { return &value(); }
  const T& operator*() const { return value(); }

  // Empty for a successful result.
  const std::string& error() const {
    static const std::string kNone;
    return ok() ? kNone : std::get<1>(v_).message;
  }

 private:
  std::variant<T, Error> v_;
};

// For operations that produce nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace wren
