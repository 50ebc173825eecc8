#pragma once
// cereal glue shared by every archive_*.h: how one field of a State struct is
// written to / read from the binary wire format and shown in the JSON dump.
//
// Serializers are non-intrusive cereal functions
//   template <class Archive> void serialize(Archive& ar, State& s, std::uint32_t version)
// written with the field() helpers below, never with ar(...) on containers
// directly:
//  - cereal's own std::vector/std::string loaders resize by a length read from
//    the input; field_vector()/field_bytes() check it against a cap first;
//  - cereal loads a bool by copying a byte into it (any value but 0/1 is then
//    undefined behaviour); field() for bool reads a u8 and refuses others.
// In JSON, byte blobs are hex strings and MAC addresses "aa:bb:..".
//
// Versions: the payload's version (from the stream header) is passed to the
// top-level serialize() directly (encode_state/decode_state); nested structs
// get cereal class versions (CEREAL_CLASS_VERSION), which the binary archive
// stores once per type. Every versioned serialize() starts with
// require_version<T>(version) so an unknown version read from a stream is
// refused. A field added in version N is read only if version >= N and
// otherwise keeps the default its serialize() documents.
#include <cstdint>
#include <istream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <type_traits>
#include <vector>

#include <cereal/archives/binary.hpp>
// rapidjson 1.1 (inside cereal's JSON archive) computes nullptr + n on its
// first write (internal/stack.h, Stack::Reserve): harmless, but clang's UBSan
// (the fuzz build) stops on it. That one check is left out of the JSON code.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("pointer-overflow"))), apply_to = function)
#endif
#include <cereal/archives/json.hpp>
#if defined(__clang__)
#pragma clang attribute pop
#endif
#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>

namespace wren::migrate {

// A payload's bytes do not decode to a valid State (never a host error).
class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class A>
inline constexpr bool kLoading = std::is_same_v<typename A::is_loading, std::true_type>;
template <class A>
inline constexpr bool kText = cereal::traits::is_text_archive<A>::value;

// The newest version this build writes for T (set by WREN_ARCHIVE_VERSION).
template <class T>
struct ArchiveVersion;

// Declares T's current version for cereal and for require_version().
#define WREN_ARCHIVE_VERSION(T, V)            \
  CEREAL_CLASS_VERSION(T, V)                  \
  template <>                                 \
  struct wren::migrate::ArchiveVersion<T> {   \
    static constexpr std::uint32_t value = V; \
  };

template <class T>
void require_version(std::uint32_t version, const char* what) {
  if (version == 0 || version > ArchiveVersion<T>::value)
    throw DecodeError(std::string(what) + ": unknown version " + std::to_string(version));
}

std::string to_hex(std::span<const uint8_t> bytes);

// ---- Scalars --------------------------------------------------------------

// cereal's JSON writes (unsigned) long long -- the kernel's __u64 -- as a
// string; as the same-width std::(u)int64_t it is a number.
template <class T>
auto json_number(T value) {
  if constexpr (std::is_same_v<T, unsigned long long>)
    return static_cast<std::uint64_t>(value);
  else if constexpr (std::is_same_v<T, long long>)
    return static_cast<std::int64_t>(value);
  else
    return value;
}

template <class A, class T>
requires std::is_arithmetic_v<T> &&(!std::is_same_v<T, bool>)void field(A& ar, const char* name, T& value) {
  if constexpr (kText<A>) {
    auto v = json_number(value);
    ar(cereal::make_nvp(name, v));
  } else {
    ar(cereal::make_nvp(name, value));
  }
}

template <class A>
void field(A& ar, const char* name, bool& value) {
  if constexpr (kText<A>) {
    ar(cereal::make_nvp(name, value));
  } else if constexpr (kLoading<A>) {
    uint8_t byte = 0;
    ar(byte);
    if (byte > 1) throw DecodeError(std::string(name) + ": boolean byte " + std::to_string(byte));
    value = byte != 0;
  } else {
    uint8_t byte = value ? 1 : 0;
    ar(byte);
  }
}

// Nested structs with their own serialize().
template <class A, class T>
requires std::is_class_v<T>
void field(A& ar, const char* name, T& value) { ar(cereal::make_nvp(name, value)); }

// ---- Bounded containers -----------------------------------------------------

// Numbers whose every bit pattern is a valid value (so raw bytes may be
// copied into them).
template <class T>
inline constexpr bool kPlainNumber = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// A fixed C array of numbers: raw in binary, a JSON array.
template <class A, class T, size_t N>
requires kPlainNumber<T>
void field_array(A& ar, const char* name, T (&array)[N]) {
  if constexpr (kText<A>) {
    ar.setNextName(name);
    ar.startNode();
    ar.makeArray();
    for (auto& e : array) ar(json_number(e));
    ar.finishNode();
  } else {
    ar(cereal::binary_data(array, sizeof array));
  }
}

template <class A>
void read_count(A& ar, const char* name, size_t max, size_t& count) {
  cereal::size_type n = 0;
  ar(cereal::make_size_tag(n));
  if (n > max)
    throw DecodeError(std::string(name) + ": " + std::to_string(n) + " entries exceed the limit of " +
                      std::to_string(max));
  count = static_cast<size_t>(n);
}

// Opens a list of `n` elements (at most `max`): its length, and in JSON an
// array named `name`. Loading reads `n` (checked against `max`); saving
// writes it. Close with end_list().
template <class A>
void begin_list(A& ar, const char* name, size_t max, size_t& n) {
  if constexpr (kLoading<A>) {
    read_count(ar, name, max, n);
  } else {
    if (n > max) throw std::invalid_argument(std::string(name) + ": more entries than the format allows");
    if constexpr (kText<A>) {
      ar.setNextName(name);
      ar.startNode();
      ar.makeArray();
    }
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(n)));
  }
}

template <class A>
void end_list(A& ar) {
  if constexpr (kText<A> && !kLoading<A>) ar.finishNode();
}

// A struct whose fields `body()` writes itself (e.g. laid out by the
// enclosing payload's version rather than by a cereal class version of its
// own): nothing in binary, a JSON object named `name`.
template <class A, class Body>
void field_object(A& ar, const char* name, Body&& body) {
  if constexpr (kText<A>) {
    ar.setNextName(name);
    ar.startNode();
  }
  body();
  if constexpr (kText<A>) ar.finishNode();
}

// A list of at most `max` elements, each through field().
template <class A, class T>
void field_vector(A& ar, const char* name, std::vector<T>& v, size_t max) {
  size_t n = v.size();
  begin_list(ar, name, max, n);
  if constexpr (kLoading<A>) v.assign(n, T{});
  if constexpr (kPlainNumber<T> && !kText<A>) {
    if (n) ar(cereal::binary_data(v.data(), n * sizeof(T)));
  } else {
    for (auto& e : v) field(ar, name, e);
  }
  end_list(ar);
}

// A list of at most `max_outer` lists of at most `max_inner` numbers.
template <class A, class T>
requires kPlainNumber<T>
void field_nested_vectors(A& ar, const char* name, std::vector<std::vector<T>>& vv, size_t max_outer,
                          size_t max_inner) {
  size_t n = vv.size();
  begin_list(ar, name, max_outer, n);
  if constexpr (kLoading<A>) vv.assign(n, {});
  for (auto& v : vv) field_vector(ar, name, v, max_inner);
  end_list(ar);
}

// Raw bytes, at most `max` of them: length + bytes; a hex string in JSON.
template <class A>
void field_bytes(A& ar, const char* name, std::vector<uint8_t>& v, size_t max) {
  if constexpr (kText<A>) {
    std::string hex = to_hex(v);
    ar(cereal::make_nvp(name, hex));
  } else if constexpr (kLoading<A>) {
    size_t n = 0;
    read_count(ar, name, max, n);
    v.assign(n, 0);
    if (n) ar(cereal::binary_data(v.data(), n));
  } else {
    if (v.size() > max) throw std::invalid_argument(std::string(name) + ": more bytes than the format allows");
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(v.size())));
    if (!v.empty()) ar(cereal::binary_data(v.data(), v.size()));
  }
}

// A fixed-size block of plain bytes (e.g. the LAPIC register page): written
// as is, a hex string in JSON.
template <class A>
void field_blob(A& ar, const char* name, void* data, size_t size) {
  if constexpr (kText<A>) {
    std::string hex = to_hex(std::span(static_cast<const uint8_t*>(data), size));
    ar(cereal::make_nvp(name, hex));
  } else {
    ar(cereal::binary_data(data, size));
  }
}

// ---- Whole values -------------------------------------------------------------

// Serializes `value` at payload `version` (cereal binary, native = little
// endian on x86).
template <class T>
std::vector<uint8_t> encode_state(const T& value, std::uint32_t version) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::BinaryOutputArchive ar(out);
    serialize(ar, const_cast<T&>(value), version);
  }
  const std::string s = std::move(out).str();
  return {s.begin(), s.end()};
}

namespace detail {
// An input stream over a byte span (no copy).
class SpanBuf : public std::streambuf {
 public:
  explicit SpanBuf(std::span<const uint8_t> bytes) {
    char* p = const_cast<char*>(reinterpret_cast<const char*>(bytes.data()));
    setg(p, p, p + bytes.size());
  }
  size_t remaining() const { return static_cast<size_t>(egptr() - gptr()); }
};
}  // namespace detail

// Decodes a value of payload `version`; throws DecodeError if the bytes are
// short, malformed, of an unknown nested version, or not all consumed.
template <class T>
T decode_state(std::span<const uint8_t> bytes, std::uint32_t version) {
  detail::SpanBuf buf(bytes);
  std::istream in(&buf);
  T value{};
  try {
    cereal::BinaryInputArchive ar(in);
    serialize(ar, value, version);
  } catch (const cereal::Exception& e) {
    throw DecodeError(std::string("truncated or malformed: ") + e.what());
  } catch (const std::length_error& e) {
    throw DecodeError(std::string("malformed: ") + e.what());
  }
  if (buf.remaining() != 0)
    throw DecodeError(std::to_string(buf.remaining()) + " bytes left over (not fully consumed)");
  return value;
}

// Writes `value`'s fields into the JSON node `ar` is positioned in.
template <class T>
void dump_state(cereal::JSONOutputArchive& ar, const T& value, std::uint32_t version) {
  serialize(ar, const_cast<T&>(value), version);
}

}  // namespace wren::migrate
