// The broker's native wire protocol (docs/broker-protocol.md): length-prefixed binary frames
// over TCP. Pure functions, no I/O, no allocation when decoding: a decoded Frame's string fields
// view the input bytes, so they are valid only while those bytes are.
//
// Frame = u32 length (big endian, bytes after itself) | u8 type | the type's fields in a fixed
// order (u8, u32 and u64 big endian; `name` and `reply_to` are u8 length + bytes; `body` is u32
// length + bytes). A frame must be consumed exactly by its fields; unknown types, unknown flag
// bits, unknown status codes, fields running past the frame and trailing bytes are malformed.
// A length above the limit is too_large, decided from the 4-byte prefix alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"

namespace pathbench::broker::protocol {

inline constexpr std::size_t kLengthPrefixBytes = 4;
// Default limit on a frame's length (type + fields): 4 MiB. Servers and clients may choose another.
inline constexpr std::size_t kDefaultMaxFrameBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxNameBytes = 255;  // queue and subject names, reply_to

enum class FrameType : std::uint8_t {
  // client -> server: each carries a seq the response echoes
  declare_queue = 0x01,    // seq, flags{exclusive}, count = max_pending (0 = server default), name  -> ok | error
  delete_queue = 0x02,     // seq, name                                              -> ok | error
  publish = 0x03,          // seq, flags{confirm}, correlation_id, name, reply_to, body -> confirm (if asked)
  consume = 0x04,          // seq, flags{auto_ack}, count = prefetch, name            -> consume_ok | error
  cancel = 0x05,           // seq, consumer_tag                                      -> ok | error
  ack = 0x06,              // seq, consumer_tag, delivery_tag                        -> error only
  nack = 0x07,             // seq, flags{requeue}, consumer_tag, delivery_tag        -> error only
  get = 0x08,              // seq, name                                              -> get_ok | get_empty | error
  subscribe = 0x09,        // seq, name = subject                                    -> subscribe_ok | error
  publish_subject = 0x0A,  // seq, flags{confirm}, name = subject, body              -> confirm (if asked)
  fetch = 0x0B,            // seq, count = max messages (0 = all), subscriber_id, name -> fetch_item* fetch_end | error
  pause = 0x0C,            // seq, name                                              -> ok | error
  resume = 0x0D,           // seq, name                                              -> ok | error
  ping = 0x0E,             // seq                                                    -> pong
  unsubscribe = 0x0F,      // seq, subscriber_id, name = subject                     -> ok | error
  // server -> client
  ok = 0x80,               // seq
  error = 0x81,            // seq (0 when no request caused it), status, body = reason text
  confirm = 0x82,          // seq, status (ok = accepted, overflow, no_queue, no_subscriber)
  consume_ok = 0x83,       // seq, consumer_tag
  deliver = 0x84,          // consumer_tag, delivery_tag, flags{redelivered}, correlation_id, message_id, reply_to, body
  get_ok = 0x85,           // seq, delivery_tag, flags{redelivered}, correlation_id, message_id, reply_to, body
  get_empty = 0x86,        // seq
  subscribe_ok = 0x87,     // seq, subscriber_id
  fetch_item = 0x88,       // seq, message_id, body
  fetch_end = 0x89,        // seq, count = messages sent
  pong = 0x8A,             // seq
};

// Flag bits; each type allows only its own (bit 0), any other bit is malformed.
inline constexpr std::uint8_t kFlagExclusive = 0x01;    // declare_queue
inline constexpr std::uint8_t kFlagConfirm = 0x01;      // publish, publish_subject
inline constexpr std::uint8_t kFlagAutoAck = 0x01;      // consume
inline constexpr std::uint8_t kFlagRequeue = 0x01;      // nack
inline constexpr std::uint8_t kFlagRedelivered = 0x01;  // deliver, get_ok

// One frame of any type: the fields its type does not carry stay zero / empty and are ignored
// by the encoder. String fields view the decoded bytes (or whatever the encoder's caller owns).
struct Frame {
  FrameType type = FrameType::ping;
  std::uint32_t seq = 0;
  std::uint8_t flags = 0;
  Status status = Status::ok;      // error, confirm
  std::uint32_t count = 0;         // declare: max_pending; consume: prefetch; fetch: max; fetch_end: sent
  std::uint64_t consumer_tag = 0;
  std::uint64_t delivery_tag = 0;
  std::uint64_t correlation_id = 0;
  std::uint64_t message_id = 0;
  std::uint64_t subscriber_id = 0;
  std::string_view name = {};      // queue or subject, <= 255 bytes
  std::string_view reply_to = {};  // <= 255 bytes
  std::string_view body = {};      // message body; error: reason text

  bool has_flag(std::uint8_t flag) const noexcept { return (flags & flag) != 0; }
};

enum class DecodeError : std::uint8_t { malformed, too_large };

struct DecodeResult {
  enum class Kind : std::uint8_t { need_more, frame, error };
  Kind kind = Kind::need_more;
  Frame frame;                              // when kind == frame
  std::size_t consumed = 0;                 // when kind == frame: bytes of input it took
  DecodeError error = DecodeError::malformed;  // when kind == error
};

// Decodes the first frame of `input`. need_more: the input holds a valid prefix of a frame
// (including an acceptable length) but not all of it; error: the connection must be closed.
DecodeResult decode_frame(std::span<const std::uint8_t> input, std::size_t max_frame_bytes = kDefaultMaxFrameBytes) noexcept;
inline DecodeResult decode_frame(std::string_view input, std::size_t max_frame_bytes = kDefaultMaxFrameBytes) noexcept {
  return decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(input.data()), input.size()), max_frame_bytes);
}

// Bytes encode_frame appends for this frame, length prefix included.
std::size_t encoded_size(const Frame& frame) noexcept;
// Appends the frame to `out`. Requires name and reply_to <= 255 bytes (checked: aborts) — callers
// validate names first; a body beyond the peer's limit is the caller's to refuse (encoded_size).
void encode_frame(const Frame& frame, std::string& out);

bool is_known_type(std::uint8_t type) noexcept;
bool is_client_frame(FrameType type) noexcept;  // types 0x01..0x0F
std::string_view to_string(FrameType type) noexcept;
std::string_view to_string(DecodeError error) noexcept;

// Bytes read from a connection and not yet decoded, shared by both ends of the protocol. Grows
// only when a frame larger than the buffer is arriving (decode_frame has already refused
// lengths above the limit, so growth is bounded by it); compacts before that.
class InputBuffer {
 public:
  // Room for the next read, at least 4 KiB.
  std::span<std::uint8_t> prepare();
  void commit(std::size_t n) noexcept { end_ += n; }
  std::span<const std::uint8_t> readable() const noexcept { return {data_.data() + begin_, end_ - begin_}; }
  void consume(std::size_t n) noexcept { begin_ += n; }
  std::size_t capacity() const noexcept { return data_.size(); }
  // Nothing unread and grown past its initial size: back to the initial size (memory returned).
  void shrink_if_idle();

 private:
  std::vector<std::uint8_t> data_ = std::vector<std::uint8_t>(16 * 1024);
  std::size_t begin_ = 0, end_ = 0;
};

}  // namespace pathbench::broker::protocol
