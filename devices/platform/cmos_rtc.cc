#include "devices/platform/cmos_rtc.h"

#include <algorithm>
#include <utility>

#include "hypervisor/layout.h"

namespace wren {
namespace {

constexpr uint8_t kRegSeconds = 0x00;
constexpr uint8_t kRegMinutes = 0x02;
constexpr uint8_t kRegHours = 0x04;
constexpr uint8_t kRegDayOfWeek = 0x06;
constexpr uint8_t kRegDayOfMonth = 0x07;
constexpr uint8_t kRegMonth = 0x08;
constexpr uint8_t kRegYear = 0x09;
constexpr uint8_t kRegA = 0x0a;
constexpr uint8_t kRegB = 0x0b;
constexpr uint8_t kRegC = 0x0c;
constexpr uint8_t kRegD = 0x0d;
constexpr uint8_t kRegCentury = 0x32;

constexpr uint8_t kRegAUpdateInProgress = 0x80;
constexpr uint8_t kRegADefault = 0x26;  // 32.768 kHz time base, 1.024 kHz periodic rate
constexpr uint8_t kRegBSet = 0x80;
constexpr uint8_t kRegBBinary = 0x04;  // DM
constexpr uint8_t kRegB24Hour = 0x02;
constexpr uint8_t kRegBDefault = kRegB24Hour;  // BCD, 24-hour
constexpr uint8_t kRegDValidRam = 0x80;
constexpr uint8_t kHourPm = 0x80;

constexpr uint8_t kIndexMask = 0x7f;
constexpr uint8_t kIndexNmiMask = 0x80;

// Memory-size bytes (the layout PC firmware has always used).
constexpr uint8_t kRegBaseMemLow = 0x15;       // KiB below 1 MiB
constexpr uint8_t kRegExtMemLow = 0x17;        // KiB above 1 MiB
constexpr uint8_t kRegExtMemCopyLow = 0x30;    // same, second copy
constexpr uint8_t kRegMemAbove16MLow = 0x34;   // 64 KiB units above 16 MiB
constexpr uint8_t kRegMemAbove4GFirst = 0x5b;  // 64 KiB units above 4 GiB, 3 bytes
constexpr uint8_t kChecksumFirst = 0x10;       // checksum covers 0x10..0x2d
constexpr uint8_t kChecksumLast = 0x2d;
constexpr uint8_t kRegChecksumHigh = 0x2e;
constexpr uint8_t kRegChecksumLow = 0x2f;

constexpr uint64_t kBaseMemoryKiB = 640;
constexpr uint64_t k64KiB = 64 * layout::kKiB;

bool is_time_register(uint8_t index) {
  switch (index) {
    case kRegSeconds:
    case kRegMinutes:
    case kRegHours:
    case kRegDayOfWeek:
    case kRegDayOfMonth:
    case kRegMonth:
    case kRegYear:
    case kRegCentury: return true;
    default: return false;
  }
}

uint8_t encode_field(int value, bool binary) {
  auto v = static_cast<uint8_t>(value);
  return binary ? v : static_cast<uint8_t>(((v / 10) << 4) | (v % 10));
}

// Decodes one field; false for invalid BCD or a value outside [lo, hi].
bool decode_field(uint8_t raw, bool binary, int lo, int hi, int& out) {
  int v = raw;
  if (!binary) {
    if ((raw >> 4) > 9 || (raw & 0x0f) > 9) return false;
    v = (raw >> 4) * 10 + (raw & 0x0f);
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

void put_le16(std::array<uint8_t, CmosRtc::kSize>& bytes, uint8_t index, uint64_t value) {
  bytes[index] = static_cast<uint8_t>(value);
  bytes[index + 1] = static_cast<uint8_t>(value >> 8);
}

void update_checksum(std::array<uint8_t, CmosRtc::kSize>& bytes) {
  uint16_t sum = 0;
  for (int i = kChecksumFirst; i <= kChecksumLast; ++i) sum = static_cast<uint16_t>(sum + bytes[i]);
  bytes[kRegChecksumHigh] = static_cast<uint8_t>(sum >> 8);
  bytes[kRegChecksumLow] = static_cast<uint8_t>(sum);
}

}  // namespace

CmosRtc::CmosRtc(uint64_t low_ram_bytes, uint64_t high_ram_bytes, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return std::time(nullptr); })) {
  bytes_[kRegA] = kRegADefault;
  bytes_[kRegB] = kRegBDefault;
  bytes_[kRegD] = kRegDValidRam;

  put_le16(bytes_, kRegBaseMemLow, kBaseMemoryKiB);
  uint64_t ext_kib = low_ram_bytes > layout::kMiB ? (low_ram_bytes - layout::kMiB) / layout::kKiB : 0;
  ext_kib = std::min<uint64_t>(ext_kib, 0xffff);
  put_le16(bytes_, kRegExtMemLow, ext_kib);
  put_le16(bytes_, kRegExtMemCopyLow, ext_kib);
  uint64_t above_16m = low_ram_bytes > 16 * layout::kMiB ? (low_ram_bytes - 16 * layout::kMiB) / k64KiB : 0;
  put_le16(bytes_, kRegMemAbove16MLow, std::min<uint64_t>(above_16m, 0xffff));
  uint64_t above_4g = std::min<uint64_t>(high_ram_bytes / k64KiB, 0xffffff);
  for (int i = 0; i < 3; ++i) bytes_[kRegMemAbove4GFirst + i] = static_cast<uint8_t>(above_4g >> (8 * i));
  update_checksum(bytes_);
}

void CmosRtc::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    // The index port is write-only.
    data[i] = offset + i == 1 ? read_data_locked() : 0xff;
  }
}

void CmosRtc::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    if (offset + i == 0) {
      index_ = data[i] & kIndexMask;
      nmi_masked_ = data[i] & kIndexNmiMask;
    } else if (offset + i == 1) {
      write_data_locked(data[i]);
    }
  }
}

bool CmosRtc::set_mode_locked() const { return bytes_[kRegB] & kRegBSet; }

std::time_t CmosRtc::now_locked() const { return clock_() + static_cast<std::time_t>(offset_); }

uint8_t CmosRtc::read_data_locked() {
  const uint8_t index = index_;
  if (is_time_register(index)) {
    // While SET is on the registers hold what the guest wrote; otherwise
    // they show the running clock.
    if (!set_mode_locked()) encode_time_locked(now_locked());
    return bytes_[index];
  }
  switch (index) {
    case kRegA: return bytes_[kRegA] & static_cast<uint8_t>(~kRegAUpdateInProgress);
    case kRegC: return 0;  // no interrupt flags: nothing ever raises one
    case kRegD: return kRegDValidRam;
    default: return bytes_[index];
  }
}

void CmosRtc::write_data_locked(uint8_t value) {
  const uint8_t index = index_;
  if (is_time_register(index)) {
    if (set_mode_locked()) {
      bytes_[index] = value;
    } else {
      encode_time_locked(now_locked());
      bytes_[index] = value;
      commit_time_locked();
    }
    return;
  }
  switch (index) {
    case kRegA: bytes_[kRegA] = value & static_cast<uint8_t>(~kRegAUpdateInProgress); break;
    case kRegB: {
      const bool was_set = set_mode_locked();
      const bool now_set = value & kRegBSet;
      // Snapshot the running clock in the format in effect when SET goes on.
      if (!was_set && now_set) encode_time_locked(now_locked());
      bytes_[kRegB] = value;
      // Leaving SET interprets the registers per the new register B, as the
      // chip's update cycle would.
      if (was_set && !now_set) commit_time_locked();
      break;
    }
    case kRegC:
    case kRegD: break;  // read-only
    default: bytes_[index] = value; break;
  }
}

void CmosRtc::encode_time_locked(std::time_t t) {
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return;
  const bool binary = bytes_[kRegB] & kRegBBinary;
  bytes_[kRegSeconds] = encode_field(tm.tm_sec, binary);
  bytes_[kRegMinutes] = encode_field(tm.tm_min, binary);
  if (bytes_[kRegB] & kRegB24Hour) {
    bytes_[kRegHours] = encode_field(tm.tm_hour, binary);
  } else {
    int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    bytes_[kRegHours] = encode_field(hour12, binary) | (tm.tm_hour >= 12 ? kHourPm : 0);
  }
  bytes_[kRegDayOfWeek] = encode_field(tm.tm_wday + 1, binary);  // Sunday = 1
  bytes_[kRegDayOfMonth] = encode_field(tm.tm_mday, binary);
  bytes_[kRegMonth] = encode_field(tm.tm_mon + 1, binary);
  const int year = tm.tm_year + 1900;
  bytes_[kRegYear] = encode_field(year % 100, binary);
  bytes_[kRegCentury] = encode_field(year / 100, binary);
}

bool CmosRtc::decode_time_locked(std::time_t& out) const {
  const bool binary = bytes_[kRegB] & kRegBBinary;
  int sec = 0, min = 0, hour = 0, mday = 0, mon = 0, yy = 0, century = 0;
  if (!decode_field(bytes_[kRegSeconds], binary, 0, 59, sec)) return false;
  if (!decode_field(bytes_[kRegMinutes], binary, 0, 59, min)) return false;
  if (bytes_[kRegB] & kRegB24Hour) {
    if (!decode_field(bytes_[kRegHours], binary, 0, 23, hour)) return false;
  } else {
    const uint8_t raw = bytes_[kRegHours];
    if (!decode_field(raw & static_cast<uint8_t>(~kHourPm), binary, 1, 12, hour)) return false;
    hour = hour % 12 + ((raw & kHourPm) ? 12 : 0);
  }
  if (!decode_field(bytes_[kRegDayOfMonth], binary, 1, 31, mday)) return false;
  if (!decode_field(bytes_[kRegMonth], binary, 1, 12, mon)) return false;
  if (!decode_field(bytes_[kRegYear], binary, 0, 99, yy)) return false;
  if (!decode_field(bytes_[kRegCentury], binary, 0, 99, century)) return false;

  std::tm tm{};
  tm.tm_sec = sec;
  tm.tm_min = min;
  tm.tm_hour = hour;
  tm.tm_mday = mday;
  tm.tm_mon = mon - 1;
  tm.tm_year = century * 100 + yy - 1900;
  const std::tm wanted = tm;
  std::time_t t = timegm(&tm);
  // timegm normalizes (Feb 30 -> Mar 2); a date that moved was not valid.
  if (tm.tm_mday != wanted.tm_mday || tm.tm_mon != wanted.tm_mon || tm.tm_year != wanted.tm_year) return false;
  out = t;
  return true;
}

void CmosRtc::commit_time_locked() {
  std::time_t t = 0;
  if (!decode_time_locked(t)) return;
  const int64_t offset = static_cast<int64_t>(t) - static_cast<int64_t>(clock_());
  if (offset > kMaxOffsetSeconds || offset < -kMaxOffsetSeconds) return;
  offset_ = offset;
}

void CmosRtc::set_byte(uint8_t index, uint8_t value) {
  if (index >= kSize || index <= kRegD || is_time_register(index)) return;
  std::lock_guard lock(mutex_);
  bytes_[index] = value;
  if (index >= kChecksumFirst && index <= kChecksumLast) update_checksum(bytes_);
}

CmosRtc::State CmosRtc::save() const {
  std::lock_guard lock(mutex_);
  State s;
  s.bytes = bytes_;
  s.index = index_;
  s.nmi_masked = nmi_masked_;
  s.clock_offset_seconds = offset_;
  return s;
}

bool CmosRtc::valid(const State& s) {
  if (s.index >= kSize) return false;
  if (s.bytes[kRegA] & kRegAUpdateInProgress) return false;
  if (s.bytes[kRegC] != 0) return false;
  if (s.bytes[kRegD] != kRegDValidRam) return false;
  if (s.clock_offset_seconds > kMaxOffsetSeconds || s.clock_offset_seconds < -kMaxOffsetSeconds) return false;
  return true;
}

bool CmosRtc::restore(const State& s) {
  if (!valid(s)) return false;
  std::lock_guard lock(mutex_);
  bytes_ = s.bytes;
  index_ = s.index;
  nmi_masked_ = s.nmi_masked;
  offset_ = s.clock_offset_seconds;
  return true;
}

}  // namespace wren
