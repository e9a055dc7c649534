// One clock for every measurement: std::chrono::steady_clock in integer nanoseconds.
// Wall-clock time is used only for timestamps written into result files.
#pragma once
#include <chrono>
#include <cstdint>

namespace pathbench {

using Nanos = std::int64_t;  // a duration or a steady_clock time point, in nanoseconds

inline Nanos now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline constexpr Nanos kNanosPerMicro = 1'000;
inline constexpr Nanos kNanosPerMilli = 1'000'000;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000;

}  // namespace pathbench
