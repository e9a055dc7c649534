#include "roles/message_consumer.h"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "db/executor.h"
#include "pathbench.pb.h"
#include "roles/query_engine.h"

namespace pathbench {

// ---- ConsumeLog ------------------------------------------------------------------------------

ConsumeLog::ConsumeLog() : chunks_(new std::atomic<ConsumeRecord*>[kMaxChunks]) {
  for (std::size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  // The first chunk now, so the first messages allocate nothing.
  chunks_[0].store(new ConsumeRecord[kChunkRecords], std::memory_order_release);
}

ConsumeLog::~ConsumeLog() {
  for (std::size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

void ConsumeLog::append(const ConsumeRecord& record) noexcept {
  const std::size_t n = size_.load(std::memory_order_relaxed);
  const std::size_t chunk = n / kChunkRecords;
  if (chunk >= kMaxChunks) {
    ++dropped_;
    return;
  }
  ConsumeRecord* c = chunks_[chunk].load(std::memory_order_relaxed);
  if (!c) {
    // One allocation per kChunkRecords messages, on the consumer thread.
    c = new (std::nothrow) ConsumeRecord[kChunkRecords];
    if (!c) {
      ++dropped_;
      return;
    }
    chunks_[chunk].store(c, std::memory_order_release);
  }
  c[n % kChunkRecords] = record;
  size_.store(n + 1, std::memory_order_release);
}

const ConsumeRecord& ConsumeLog::at(std::size_t i) const noexcept {
  return chunks_[i / kChunkRecords].load(std::memory_order_acquire)[i % kChunkRecords];
}

// ---- message body ----------------------------------------------------------------------------

namespace {
constexpr std::size_t kHeaderBytes = 8 + 8 + 4;
}  // namespace

void make_message_body(std::uint64_t key, Nanos intended_ns, std::string_view query_request, std::size_t message_bytes,
                       std::string& out) {
  const auto length = static_cast<std::uint32_t>(query_request.size());
  out.resize(kHeaderBytes);
  std::memcpy(out.data(), &key, 8);
  std::memcpy(out.data() + 8, &intended_ns, 8);
  std::memcpy(out.data() + 16, &length, 4);
  out.append(query_request);
  if (out.size() < message_bytes) out.append(message_bytes - out.size(), 'x');
}

bool parse_message_body(std::string_view body, std::uint64_t& key, Nanos& intended_ns, std::string_view& query_request) {
  if (body.size() < kHeaderBytes) return false;
  std::uint32_t length = 0;
  std::memcpy(&key, body.data(), 8);
  std::memcpy(&intended_ns, body.data() + 8, 8);
  std::memcpy(&length, body.data() + 16, 4);
  if (length > body.size() - kHeaderBytes) return false;
  query_request = body.substr(kHeaderBytes, length);
  return true;
}

// ---- MessageConsumer -------------------------------------------------------------------------

namespace {

// One consumer thread's handler: its executor (opened on the constructing thread, so a bad
// database fails the constructor) and its log.
class MessageHandler {
 public:
  MessageHandler(std::shared_ptr<QueryExecutor> executor, ConsumeLog& log, std::string worker_id, Nanos max_age_ns)
      : executor_(std::move(executor)), log_(log), worker_id_(std::move(worker_id)), max_age_ns_(max_age_ns) {}

  void operator()(std::string_view body) {
    const Nanos received_ns = now_ns();
    ConsumeRecord record;
    std::string_view request;
    if (!parse_message_body(body, record.key, record.intended_ns, request) ||
        !request_.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
      record.failed = true;
    } else if (max_age_ns_ > 0 && received_ns - record.intended_ns > max_age_ns_) {
      record.expired = true;  // too old to be worth doing: the messaging analogue of a deadline
    } else {
      Answer answer;
      Query query;
      if (decode_request(request_, query, answer)) run_query(query, executor_.get(), kNoDeadline, kNoDeadline, worker_id_, answer);
      record.failed = answer.code != grpc::StatusCode::OK;
    }
    record.done_ns = now_ns();
    log_.append(record);
  }

 private:
  std::shared_ptr<QueryExecutor> executor_;
  ConsumeLog& log_;
  std::string worker_id_;
  Nanos max_age_ns_;
  v1::QueryRequest request_;  // reused between messages of this thread
};

}  // namespace

struct MessageConsumer::Impl {
  explicit Impl(const MessageConsumerOptions& o) : options(o) {
    options.endpoint.one_way = true;
    const int threads = std::max(1, o.threads);
    for (int i = 0; i < threads; ++i) {
      logs.push_back(std::make_unique<ConsumeLog>());
      try {
        executors.push_back(o.db_path.empty() ? nullptr : std::make_shared<QueryExecutor>(o.db_path));
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("message consumer {}: {}", o.id, e.what()));
      }
    }
    responder = mq::make_responder(
        options.endpoint, threads,
        [this](int index) -> mq::Responder::Handler {
          const auto i = static_cast<std::size_t>(index) % logs.size();
          auto handler = std::make_shared<MessageHandler>(executors[i], *logs[i], options.id, options.max_age_ns);
          return [handler](std::string_view body) {
            (*handler)(body);
            return std::string();  // one-way: no reply
          };
        },
        o.id);
  }
  MessageConsumerOptions options;
  std::vector<std::unique_ptr<ConsumeLog>> logs;           // [i] written only by consumer thread i
  std::vector<std::shared_ptr<QueryExecutor>> executors;   // [i] used only by consumer thread i
  std::unique_ptr<mq::Responder> responder;                 // last: stopped before the rest goes
};

MessageConsumer::MessageConsumer(const MessageConsumerOptions& options) : impl_(std::make_unique<Impl>(options)) {}
MessageConsumer::~MessageConsumer() { kill(); }
const std::string& MessageConsumer::id() const noexcept { return impl_->options.id; }
void MessageConsumer::pause(bool paused) { impl_->responder->pause(paused); }
void MessageConsumer::kill() {
  if (impl_ && impl_->responder) impl_->responder->stop();
}
mq::Responder::Stats MessageConsumer::stats() const { return impl_->responder->stats(); }
std::vector<const ConsumeLog*> MessageConsumer::logs() const {
  std::vector<const ConsumeLog*> out;
  for (auto& l : impl_->logs) out.push_back(l.get());
  return out;
}

}  // namespace pathbench
