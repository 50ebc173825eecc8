#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// snapshot and migration streams. Uses the SSE4.2 crc32 instruction when the
// CPU has it (memory sections are hundreds of MiB), a table otherwise.
#include <cstdint>
#include <span>

namespace wren::migrate {

// crc32c(a ++ b) == crc32c_extend(crc32c(a), b); crc32c({}) == 0.
[[nodiscard]] uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);
[[nodiscard]] inline uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

}  // namespace wren::migrate
