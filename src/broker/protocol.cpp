#include "broker/protocol.h"

#include <array>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

namespace pathbench::broker::protocol {

namespace {

// core/check.h's check(), minus std::source_location: this file also builds with clang 14
// (scripts/fuzz.sh), whose libstdc++ 12 <source_location> it cannot compile.
#define PB_PROTOCOL_CHECK(ok, what)                                                       \
  do {                                                                                    \
    if (!(ok)) {                                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, what);      \
      std::abort();                                                                       \
    }                                                                                     \
  } while (false)

// Every frame type is a fixed list of fields: one table drives both the encoder and the decoder,
// so the two cannot disagree (the known-answer tests pin the bytes).
enum class Field : std::uint8_t {
  seq, flags, status, count, consumer_tag, delivery_tag, correlation_id, message_id, subscriber_id, name, reply_to, body,
};

struct Layout {
  bool known = false;
  std::uint8_t allowed_flags = 0;
  std::uint8_t field_count = 0;
  std::array<Field, 8> fields{};
};

constexpr Layout layout(std::uint8_t allowed_flags, std::initializer_list<Field> fields) {
  Layout l;
  l.known = true;
  l.allowed_flags = allowed_flags;
  for (Field f : fields) l.fields[l.field_count++] = f;
  return l;
}

constexpr std::array<Layout, 256> make_layouts() {
  using F = Field;
  std::array<Layout, 256> t{};
  auto at = [&](FrameType type) -> Layout& { return t[static_cast<std::uint8_t>(type)]; };
  at(FrameType::declare_queue) = layout(kFlagExclusive, {F::seq, F::flags, F::count, F::name});
  at(FrameType::delete_queue) = layout(0, {F::seq, F::name});
  at(FrameType::publish) = layout(kFlagConfirm, {F::seq, F::flags, F::correlation_id, F::name, F::reply_to, F::body});
  at(FrameType::consume) = layout(kFlagAutoAck, {F::seq, F::flags, F::count, F::name});
  at(FrameType::cancel) = layout(0, {F::seq, F::consumer_tag});
  at(FrameType::ack) = layout(0, {F::seq, F::consumer_tag, F::delivery_tag});
  at(FrameType::nack) = layout(kFlagRequeue, {F::seq, F::flags, F::consumer_tag, F::delivery_tag});
  at(FrameType::get) = layout(0, {F::seq, F::name});
  at(FrameType::subscribe) = layout(0, {F::seq, F::name});
  at(FrameType::publish_subject) = layout(kFlagConfirm, {F::seq, F::flags, F::name, F::body});
  at(FrameType::fetch) = layout(0, {F::seq, F::count, F::subscriber_id, F::name});
  at(FrameType::pause) = layout(0, {F::seq, F::name});
  at(FrameType::resume) = layout(0, {F::seq, F::name});
  at(FrameType::ping) = layout(0, {F::seq});
  at(FrameType::unsubscribe) = layout(0, {F::seq, F::subscriber_id, F::name});
  at(FrameType::ok) = layout(0, {F::seq});
  at(FrameType::error) = layout(0, {F::seq, F::status, F::body});
  at(FrameType::confirm) = layout(0, {F::seq, F::status});
  at(FrameType::consume_ok) = layout(0, {F::seq, F::consumer_tag});
  at(FrameType::deliver) = layout(kFlagRedelivered, {F::consumer_tag, F::delivery_tag, F::flags, F::correlation_id,
                                                     F::message_id, F::reply_to, F::body});
  at(FrameType::get_ok) = layout(kFlagRedelivered, {F::seq, F::delivery_tag, F::flags, F::correlation_id,
                                                    F::message_id, F::reply_to, F::body});
  at(FrameType::get_empty) = layout(0, {F::seq});
  at(FrameType::subscribe_ok) = layout(0, {F::seq, F::subscriber_id});
  at(FrameType::fetch_item) = layout(0, {F::seq, F::message_id, F::body});
  at(FrameType::fetch_end) = layout(0, {F::seq, F::count});
  at(FrameType::pong) = layout(0, {F::seq});
  return t;
}

constexpr std::array<Layout, 256> kLayouts = make_layouts();

constexpr std::size_t field_size(Field f, const Frame& frame) noexcept {
  switch (f) {
    case Field::flags:
    case Field::status: return 1;
    case Field::seq:
    case Field::count: return 4;
    case Field::consumer_tag:
    case Field::delivery_tag:
    case Field::correlation_id:
    case Field::message_id:
    case Field::subscriber_id: return 8;
    case Field::name: return 1 + frame.name.size();
    case Field::reply_to: return 1 + frame.reply_to.size();
    case Field::body: return 4 + frame.body.size();
  }
  return 0;
}

// Reads big-endian fields from [pos, end); any overrun sets ok = false and yields zeros.
struct Reader {
  const std::uint8_t* pos;
  const std::uint8_t* end;
  bool ok = true;

  bool has(std::size_t n) noexcept {
    if (static_cast<std::size_t>(end - pos) < n) ok = false;
    return ok;
  }
  std::uint64_t uint(std::size_t bytes) noexcept {
    if (!has(bytes)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | pos[i];
    pos += bytes;
    return v;
  }
  std::string_view bytes(std::size_t length_bytes) noexcept {
    const std::size_t n = uint(length_bytes);
    if (!has(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(pos), n);
    pos += n;
    return s;
  }
};

void put_uint(std::string& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = bytes; i-- > 0;) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_bytes(std::string& out, std::string_view s, std::size_t length_bytes) {
  put_uint(out, s.size(), length_bytes);
  out.append(s);
}

DecodeResult failed(DecodeError error) noexcept {
  DecodeResult r;
  r.kind = DecodeResult::Kind::error;
  r.error = error;
  return r;
}

}  // namespace

bool is_known_type(std::uint8_t type) noexcept { return kLayouts[type].known; }

bool is_client_frame(FrameType type) noexcept {
  const auto t = static_cast<std::uint8_t>(type);
  return t >= 0x01 && t <= 0x0F;
}

DecodeResult decode_frame(std::span<const std::uint8_t> input, std::size_t max_frame_bytes) noexcept {
  if (input.size() < kLengthPrefixBytes) return {};
  const std::size_t length = (std::size_t{input[0]} << 24) | (std::size_t{input[1]} << 16) |
                             (std::size_t{input[2]} << 8) | std::size_t{input[3]};
  if (length == 0) return failed(DecodeError::malformed);
  if (length > max_frame_bytes) return failed(DecodeError::too_large);
  // Known type and flags can be judged before the rest arrives: garbage is refused at once.
  if (input.size() < kLengthPrefixBytes + 1) return {};
  const Layout& l = kLayouts[input[kLengthPrefixBytes]];
  if (!l.known) return failed(DecodeError::malformed);
  if (input.size() < kLengthPrefixBytes + length) return {};

  DecodeResult r;
  Frame& f = r.frame;
  f.type = static_cast<FrameType>(input[kLengthPrefixBytes]);
  Reader in{input.data() + kLengthPrefixBytes + 1, input.data() + kLengthPrefixBytes + length};
  for (std::size_t i = 0; i < l.field_count; ++i) {
    switch (l.fields[i]) {
      case Field::seq: f.seq = static_cast<std::uint32_t>(in.uint(4)); break;
      case Field::flags: f.flags = static_cast<std::uint8_t>(in.uint(1)); break;
      case Field::status: {
        const auto code = in.uint(1);
        if (code > kMaxStatusCode) return failed(DecodeError::malformed);
        f.status = static_cast<Status>(code);
        break;
      }
      case Field::count: f.count = static_cast<std::uint32_t>(in.uint(4)); break;
      case Field::consumer_tag: f.consumer_tag = in.uint(8); break;
      case Field::delivery_tag: f.delivery_tag = in.uint(8); break;
      case Field::correlation_id: f.correlation_id = in.uint(8); break;
      case Field::message_id: f.message_id = in.uint(8); break;
      case Field::subscriber_id: f.subscriber_id = in.uint(8); break;
      case Field::name: f.name = in.bytes(1); break;
      case Field::reply_to: f.reply_to = in.bytes(1); break;
      case Field::body: f.body = in.bytes(4); break;
    }
    if (!in.ok) return failed(DecodeError::malformed);
  }
  if (in.pos != in.end) return failed(DecodeError::malformed);  // trailing bytes
  if ((f.flags & ~l.allowed_flags) != 0) return failed(DecodeError::malformed);
  r.kind = DecodeResult::Kind::frame;
  r.consumed = kLengthPrefixBytes + length;
  return r;
}

std::size_t encoded_size(const Frame& frame) noexcept {
  const Layout& l = kLayouts[static_cast<std::uint8_t>(frame.type)];
  std::size_t n = kLengthPrefixBytes + 1;
  for (std::size_t i = 0; i < l.field_count; ++i) n += field_size(l.fields[i], frame);
  return n;
}

void encode_frame(const Frame& frame, std::string& out) {
  const Layout& l = kLayouts[static_cast<std::uint8_t>(frame.type)];
  PB_PROTOCOL_CHECK(l.known, "encode_frame: unknown frame type");
  PB_PROTOCOL_CHECK(frame.name.size() <= kMaxNameBytes && frame.reply_to.size() <= kMaxNameBytes,
                    "encode_frame: name or reply_to longer than 255 bytes");
  const std::size_t total = encoded_size(frame);
  out.reserve(out.size() + total);
  put_uint(out, total - kLengthPrefixBytes, 4);
  out.push_back(static_cast<char>(frame.type));
  for (std::size_t i = 0; i < l.field_count; ++i) {
    switch (l.fields[i]) {
      case Field::seq: put_uint(out, frame.seq, 4); break;
      case Field::flags: put_uint(out, frame.flags & l.allowed_flags, 1); break;
      case Field::status: put_uint(out, static_cast<std::uint8_t>(frame.status), 1); break;
      case Field::count: put_uint(out, frame.count, 4); break;
      case Field::consumer_tag: put_uint(out, frame.consumer_tag, 8); break;
      case Field::delivery_tag: put_uint(out, frame.delivery_tag, 8); break;
      case Field::correlation_id: put_uint(out, frame.correlation_id, 8); break;
      case Field::message_id: put_uint(out, frame.message_id, 8); break;
      case Field::subscriber_id: put_uint(out, frame.subscriber_id, 8); break;
      case Field::name: put_bytes(out, frame.name, 1); break;
      case Field::reply_to: put_bytes(out, frame.reply_to, 1); break;
      case Field::body: put_bytes(out, frame.body, 4); break;
    }
  }
}

std::string_view to_string(FrameType type) noexcept {
  switch (type) {
    case FrameType::declare_queue: return "declare_queue";
    case FrameType::delete_queue: return "delete_queue";
    case FrameType::publish: return "publish";
    case FrameType::consume: return "consume";
    case FrameType::cancel: return "cancel";
    case FrameType::ack: return "ack";
    case FrameType::nack: return "nack";
    case FrameType::get: return "get";
    case FrameType::subscribe: return "subscribe";
    case FrameType::publish_subject: return "publish_subject";
    case FrameType::fetch: return "fetch";
    case FrameType::pause: return "pause";
    case FrameType::resume: return "resume";
    case FrameType::ping: return "ping";
    case FrameType::unsubscribe: return "unsubscribe";
    case FrameType::ok: return "ok";
    case FrameType::error: return "error";
    case FrameType::confirm: return "confirm";
    case FrameType::consume_ok: return "consume_ok";
    case FrameType::deliver: return "deliver";
    case FrameType::get_ok: return "get_ok";
    case FrameType::get_empty: return "get_empty";
    case FrameType::subscribe_ok: return "subscribe_ok";
    case FrameType::fetch_item: return "fetch_item";
    case FrameType::fetch_end: return "fetch_end";
    case FrameType::pong: return "pong";
  }
  return "unknown";
}

std::string_view to_string(DecodeError error) noexcept {
  return error == DecodeError::too_large ? "too_large" : "malformed";
}

void InputBuffer::shrink_if_idle() {
  constexpr std::size_t kInitial = 16 * 1024;
  if (begin_ != end_ || data_.size() <= kInitial) return;
  std::vector<std::uint8_t>(kInitial).swap(data_);
  begin_ = end_ = 0;
}

std::span<std::uint8_t> InputBuffer::prepare() {
  constexpr std::size_t kMinRoom = 4096;
  if (begin_ == end_) begin_ = end_ = 0;
  if (data_.size() - end_ < kMinRoom) {
    if (begin_ > 0) {
      std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (data_.size() - end_ < kMinRoom) data_.resize(data_.size() * 2);
  }
  return {data_.data() + end_, data_.size() - end_};
}

}  // namespace pathbench::broker::protocol
