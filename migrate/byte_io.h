#pragma once
// Where streams are written to and read from: a growing buffer, a bounded
// buffer, or a file descriptor (snapshot file, migration socket), plus
// little-endian integer helpers. Readers read exact amounts and report a
// short read as false, never as partial data.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "migrate/crc32c.h"

namespace wren::migrate {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes everything or throws std::system_error (a host failure).
  virtual void write(std::span<const uint8_t> data) = 0;
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills `out` completely; false on end of data or a read error.
  [[nodiscard]] virtual bool read(std::span<uint8_t> out) = 0;
};

class VectorSink final : public ByteSink {
 public:
  void write(std::span<const uint8_t> data) override { bytes.insert(bytes.end(), data.begin(), data.end()); }
  std::vector<uint8_t> bytes;
};

class SpanSource final : public ByteSource {
 public:
  explicit SpanSource(std::span<const uint8_t> data) : data_(data) {}
  [[nodiscard]] bool read(std::span<uint8_t> out) override;
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Buffered writes to an fd it does not own; flush() (or destruction, which
// swallows errors) pushes out the rest.
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd, size_t buffer_bytes = 1 << 20);
  ~FdSink() override;
  FdSink(const FdSink&) = delete;
  FdSink& operator=(const FdSink&) = delete;
  void write(std::span<const uint8_t> data) override;
  void flush();

 private:
  void write_all(std::span<const uint8_t> data);
  int fd_;
  std::vector<uint8_t> buffer_;
  size_t used_ = 0;
};

// Buffered reads from an fd it does not own.
class FdSource final : public ByteSource {
 public:
  explicit FdSource(int fd, size_t buffer_bytes = 1 << 20);
  [[nodiscard]] bool read(std::span<uint8_t> out) override;

 private:
  int fd_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool failed_ = false;
};

// Passes bytes through and keeps the CRC-32C of everything that went by.
// Not copyable, so that nesting one in another (a checksum over part of a
// checksummed stream) cannot silently copy instead: write
//   Crc32cSink inner(static_cast<ByteSink&>(outer));
class Crc32cSink final : public ByteSink {
 public:
  explicit Crc32cSink(ByteSink& inner) : inner_(inner) {}
  Crc32cSink(const Crc32cSink&) = delete;
  Crc32cSink& operator=(const Crc32cSink&) = delete;
  void write(std::span<const uint8_t> data) override {
    crc_ = crc32c_extend(crc_, data);
    inner_.write(data);
  }
  uint32_t crc() const { return crc_; }

 private:
  ByteSink& inner_;
  uint32_t crc_ = 0;
};

class Crc32cSource final : public ByteSource {
 public:
  explicit Crc32cSource(ByteSource& inner) : inner_(inner) {}
  Crc32cSource(const Crc32cSource&) = delete;
  Crc32cSource& operator=(const Crc32cSource&) = delete;
  [[nodiscard]] bool read(std::span<uint8_t> out) override {
    if (!inner_.read(out)) return false;
    crc_ = crc32c_extend(crc_, out);
    return true;
  }
  uint32_t crc() const { return crc_; }

 private:
  ByteSource& inner_;
  uint32_t crc_ = 0;
};

void put_u8(ByteSink& sink, uint8_t v);
void put_u16(ByteSink& sink, uint16_t v);
void put_u32(ByteSink& sink, uint32_t v);
void put_u64(ByteSink& sink, uint64_t v);
// A string of at most 255 bytes with a one-byte length (host invariant).
void put_short_string(ByteSink& sink, const std::string& s);

[[nodiscard]] std::optional<uint8_t> get_u8(ByteSource& source);
[[nodiscard]] std::optional<uint16_t> get_u16(ByteSource& source);
[[nodiscard]] std::optional<uint32_t> get_u32(ByteSource& source);
[[nodiscard]] std::optional<uint64_t> get_u64(ByteSource& source);
[[nodiscard]] std::optional<std::string> get_short_string(ByteSource& source);

// Reads `length` bytes into a vector that grows as data actually arrives
// (in 1 MiB steps), so a lying length costs no more memory than the data
// behind it. The caller checks `length` against its cap first.
[[nodiscard]] std::optional<std::vector<uint8_t>> get_bytes(ByteSource& source, uint64_t length);

}  // namespace wren::migrate
