#pragma once
// A value or the reason there is none. C++20 has no std::expected; this is
// the subset migrate/ needs. Reading value() of a failure is a programming
// error and throws std::logic_error.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace wren::migrate {

struct Failure {
  std::string message;
};

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Expected(Failure failure) : v_(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<0>(checked()); }
  T& value() & { return std::get<0>(checked()); }
  T&& value() && { return std::get<0>(std::move(checked())); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const T& operator*() const { return value(); }
  T& operator*() { return value(); }

  // Empty on success.
  const std::string& error() const {
    static const std::string kNone;
    return ok() ? kNone : std::get<1>(v_).message;
  }

 private:
  std::variant<T, Failure>& checked() const {
    if (!ok()) throw std::logic_error("Expected::value() on a failure: " + std::get<1>(v_).message);
    return const_cast<std::variant<T, Failure>&>(v_);
  }
  std::variant<T, Failure> v_;
};

// For operations that produce nothing but may fail.
struct Done {};
using Status = Expected<Done>;
inline Status success() { return Done{}; }

}  // namespace wren::migrate
