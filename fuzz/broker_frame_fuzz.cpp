// Fuzz target for the broker's frame decoder (broker/protocol.h). Whatever the bytes, decoding
// must not crash, read out of bounds or loop; and every frame it accepts must re-encode to
// exactly the bytes it came from (the codec is one table, so this checks the decoder's
// validation against the encoder's output).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "broker/protocol.h"

using namespace pathbench::broker::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A small limit as well as the default, so the too_large path is reached by short inputs.
  for (std::size_t max_frame : {std::size_t{64}, kDefaultMaxFrameBytes}) {
    std::span<const std::uint8_t> input(data, size);
    std::string reencoded;
    while (!input.empty()) {
      const DecodeResult r = decode_frame(input, max_frame);
      if (r.kind != DecodeResult::Kind::frame) break;
      if (r.consumed == 0 || r.consumed > input.size()) std::abort();
      reencoded.clear();
      encode_frame(r.frame, reencoded);
      if (reencoded.size() != r.consumed || std::memcmp(reencoded.data(), input.data(), r.consumed) != 0) std::abort();
      if (encoded_size(r.frame) != r.consumed) std::abort();
      input = input.subspan(r.consumed);
    }
  }
  return 0;
}
