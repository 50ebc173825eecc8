#pragma once
// Offsets and bits of the type-0 PCI configuration header (PCI Local Bus 3.0 §6.1).
#include <cstdint>

namespace wren::pci {

inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevisionId = 0x08;
inline constexpr uint16_t kClassProgIf = 0x09;  // class code: prog-if, subclass, class (0x09..0x0b)
inline constexpr uint16_t kCacheLineSize = 0x0c;
inline constexpr uint16_t kLatencyTimer = 0x0d;
inline constexpr uint16_t kHeaderType = 0x0e;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kBarEnd = 0x28;  // one past BAR5
inline constexpr uint16_t kSubsystemVendorId = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;
inline constexpr uint16_t kExpansionRom = 0x30;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;
inline constexpr uint16_t kInterruptLine = 0x3c;
inline constexpr uint16_t kInterruptPin = 0x3d;
inline constexpr uint16_t kFirstCapability = 0x40;

inline constexpr uint16_t kCommandIo = 1u << 0;
inline constexpr uint16_t kCommandMemory = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandParity = 1u << 6;
inline constexpr uint16_t kCommandSerr = 1u << 8;
inline constexpr uint16_t kCommandIntxDisable = 1u << 10;

inline constexpr uint16_t kStatusInterrupt = 1u << 3;
inline constexpr uint16_t kStatusCapList = 1u << 4;
// Error bits the guest clears by writing one (bits 8 and 11..15).
inline constexpr uint16_t kStatusWriteOneToClear = 0xf900;

inline constexpr uint32_t kBarIoSpace = 1u << 0;
inline constexpr uint32_t kBarMem64 = 2u << 1;
inline constexpr uint32_t kBarPrefetchable = 1u << 3;
inline constexpr uint32_t kBarMemFlagsMask = 0xf;
inline constexpr uint32_t kBarIoFlagsMask = 0x3;

inline constexpr uint8_t kCapIdMsix = 0x11;
inline constexpr uint8_t kCapIdVendor = 0x09;

// Interrupt pin register values.
inline constexpr uint8_t kPinNone = 0;
inline constexpr uint8_t kPinIntA = 1;

}  // namespace wren::pci
