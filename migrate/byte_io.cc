#include "migrate/byte_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace wren::migrate {

bool SpanSource::read(std::span<uint8_t> out) {
  if (out.size() > remaining()) {
    pos_ = data_.size();
    return false;
  }
  if (!out.empty()) std::memcpy(out.data(), data_.data() + pos_, out.size());
  pos_ += out.size();
  return true;
}

FdSink::FdSink(int fd, size_t buffer_bytes) : fd_(fd), buffer_(std::max<size_t>(buffer_bytes, 4096)) {}

FdSink::~FdSink() {
  try {
    flush();
  } catch (const std::exception&) {
    // The owner that cares calls flush() itself and sees the error.
  }
}

void FdSink::write(std::span<const uint8_t> data) {
  if (used_ + data.size() > buffer_.size()) flush();
  if (data.size() >= buffer_.size()) {
    write_all(data);
    return;
  }
  std::memcpy(buffer_.data() + used_, data.data(), data.size());
  used_ += data.size();
}

void FdSink::flush() {
  const size_t n = used_;
  used_ = 0;
  write_all(std::span(buffer_.data(), n));
}

void FdSink::write_all(std::span<const uint8_t> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "write");
    }
    data = data.subspan(static_cast<size_t>(n));
  }
}

FdSource::FdSource(int fd, size_t buffer_bytes) : fd_(fd), buffer_(std::max<size_t>(buffer_bytes, 4096)) {}

bool FdSource::read(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    if (begin_ == end_) {
      if (failed_) return false;
      // Large reads bypass the buffer.
      const size_t want = out.size() - done;
      uint8_t* target = want >= buffer_.size() ? out.data() + done : buffer_.data();
      const size_t cap = want >= buffer_.size() ? want : buffer_.size();
      const ssize_t n = ::read(fd_, target, cap);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        failed_ = true;
        return false;
      }
      if (target != buffer_.data()) {
        done += static_cast<size_t>(n);
        continue;
      }
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    const size_t take = std::min(end_ - begin_, out.size() - done);
    std::memcpy(out.data() + done, buffer_.data() + begin_, take);
    begin_ += take;
    done += take;
  }
  return true;
}

namespace {

template <typename T>
void put_le(ByteSink& sink, T v) {
  uint8_t bytes[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<uint8_t>(v >> (8 * i));
  sink.write(bytes);
}

template <typename T>
std::optional<T> get_le(ByteSource& source) {
  uint8_t bytes[sizeof(T)];
  if (!source.read(bytes)) return std::nullopt;
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(T{bytes[i]} << (8 * i));
  return v;
}

}  // namespace

void put_u8(ByteSink& sink, uint8_t v) { put_le(sink, v); }
void put_u16(ByteSink& sink, uint16_t v) { put_le(sink, v); }
void put_u32(ByteSink& sink, uint32_t v) { put_le(sink, v); }
void put_u64(ByteSink& sink, uint64_t v) { put_le(sink, v); }

void put_short_string(ByteSink& sink, const std::string& s) {
  if (s.size() > 255) throw std::invalid_argument("string longer than 255 bytes: " + s.substr(0, 32));
  put_u8(sink, static_cast<uint8_t>(s.size()));
  sink.write(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

std::optional<uint8_t> get_u8(ByteSource& source) { return get_le<uint8_t>(source); }
std::optional<uint16_t> get_u16(ByteSource& source) { return get_le<uint16_t>(source); }
std::optional<uint32_t> get_u32(ByteSource& source) { return get_le<uint32_t>(source); }
std::optional<uint64_t> get_u64(ByteSource& source) { return get_le<uint64_t>(source); }

std::optional<std::string> get_short_string(ByteSource& source) {
  const auto n = get_u8(source);
  if (!n) return std::nullopt;
  std::string s(*n, '\0');
  if (!source.read(std::span(reinterpret_cast<uint8_t*>(s.data()), s.size()))) return std::nullopt;
  return s;
}

std::optional<std::vector<uint8_t>> get_bytes(ByteSource& source, uint64_t length) {
  constexpr uint64_t kStep = 1 << 20;
  std::vector<uint8_t> out;
  while (out.size() < length) {
    const size_t take = static_cast<size_t>(std::min<uint64_t>(kStep, length - out.size()));
    const size_t at = out.size();
    out.resize(at + take);
    if (!source.read(std::span(out.data() + at, take))) return std::nullopt;
  }
  return out;
}

}  // namespace wren::migrate
