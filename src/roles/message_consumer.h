// The worker role of one-way messaging (paths/messaging.h): consumer threads that take messages
// off a queue as competing consumers (mq::Responder with Endpoint::one_way, any broker kind), do
// the message's work (the query it carries, on the sales database, as the queue worker does),
// and then acknowledge it. Each consumer thread writes what it consumed to its own ConsumeLog
// (one writer, no lock per message); the path reads the logs after its run to count consumed,
// duplicated, lost and expired messages and to time each end to end.
//
// The message format (make_message_body / parse_message_body): key (u64), intended publish time
// (steady ns of the publishing process — the consumers run in the same process, so the
// difference is a valid end-to-end time), the length and bytes of a serialized
// pathbench.v1.QueryRequest, then padding up to the path's message_bytes.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "mq/mq.h"

namespace pathbench {

struct ConsumeRecord {
  std::uint64_t key = 0;     // the publisher's message key (paths/messaging.cpp)
  Nanos intended_ns = 0;     // its intended publish time
  Nanos done_ns = 0;         // when the consumer had done its work (just before the ack)
  bool expired = false;      // older than max_age when it arrived: its work was not done
  bool failed = false;       // unreadable, or its query failed
};

// What one consumer thread consumed, in order. append() from that thread only; size() and
// at(i < size()) from any thread (the size is published with release after the record is
// written). Storage grows by fixed chunks that never move, so a reader never sees a
// reallocation; memory is freed with the log.
class ConsumeLog {
 public:
  ConsumeLog();
  ~ConsumeLog();
  ConsumeLog(const ConsumeLog&) = delete;
  ConsumeLog& operator=(const ConsumeLog&) = delete;

  void append(const ConsumeRecord& record) noexcept;
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  const ConsumeRecord& at(std::size_t i) const noexcept;

 private:
  static constexpr std::size_t kChunkRecords = std::size_t{1} << 15;
  static constexpr std::size_t kMaxChunks = std::size_t{1} << 15;  // ~1e9 records
  std::unique_ptr<std::atomic<ConsumeRecord*>[]> chunks_;
  std::atomic<std::size_t> size_{0};
  std::size_t dropped_ = 0;  // beyond kMaxChunks * kChunkRecords (not reachable in practice)
};

// The message body: key, intended time, the query request, padding to at least `message_bytes`.
void make_message_body(std::uint64_t key, Nanos intended_ns, std::string_view query_request, std::size_t message_bytes,
                       std::string& out);
// false when `body` is not such a message.
bool parse_message_body(std::string_view body, std::uint64_t& key, Nanos& intended_ns, std::string_view& query_request);

struct MessageConsumerOptions {
  std::string id = "msg-0";
  std::filesystem::path db_path;  // required unless every query is echo
  int threads = 2;                // consumer threads, each with its own executor and log
  mq::Endpoint endpoint;          // one_way is set by the consumer
  Nanos max_age_ns = 0;           // a message older than this on arrival is expired (0: no limit)
};

class MessageConsumer {
 public:
  // Connects and starts consuming; throws std::runtime_error (database or broker unreachable).
  explicit MessageConsumer(const MessageConsumerOptions& options);
  ~MessageConsumer();
  MessageConsumer(const MessageConsumer&) = delete;
  MessageConsumer& operator=(const MessageConsumer&) = delete;

  const std::string& id() const noexcept;
  // Fault injection: stop / resume taking messages. Thread-safe.
  void pause(bool paused);
  // Fault injection: the consumer dies — its connections close, what it held unacknowledged is
  // redelivered by the broker to the others. Its logs stay readable. Idempotent.
  void kill();
  mq::Responder::Stats stats() const;
  // One log per consumer thread; valid as long as this object.
  std::vector<const ConsumeLog*> logs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pathbench
