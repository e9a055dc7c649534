// One-way messaging over NATS JetStream (mq/mq.h: Endpoint kind "nats" with one_way and durable):
// the messages persist in a stream with file storage, so a publish is confirmed by the server
// (a JetStream publish ack) once stored, and a consumer's ack removes it.
//
// Setup, idempotent (the publishers and the consumers race to it): the stream "PB_<queue>"
// (every character of the queue name that a stream name may not hold becomes '_') on the subject
// endpoint.request_queue, file storage, work-queue retention, at most endpoint.max_pending
// messages with discard-new (a publish beyond it is refused: rejected, never dropped), and one
// durable pull consumer "pathbench-consumers" (explicit acks, 2 s ack wait: what a consumer took
// and did not ack is redelivered after that).
//
// Requester: one connection; js_PublishMsgAsync with the correlation id in a "Pb-Id" header; the
// ack handler runs on a nats.c thread and posts outcomes to the io_context through the reply book.
// Responder: one connection shared by `threads` threads, each fetching up to `prefetch` messages
// at a time from the durable consumer (so they compete), running the handler and acking each.
#include <fmt/format.h>
#include <nats/nats.h>
#include <pthread.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/url.h"
#include "mq/backends.h"
#include "mq/messaging_probe.h"
#include "mq/nats_common.h"
#include "mq/reply_book.h"

namespace pathbench::mq {

namespace {

using detail::ReplyBook;

constexpr const char* kConsumer = "pathbench-consumers";
constexpr const char* kIdHeader = "Pb-Id";
constexpr std::int64_t kPollMs = 50;

constexpr auto to_ms = detail::nats_ms;

std::string stream_name(const std::string& queue) {
  std::string name = "PB_" + queue;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  return name;
}

std::string why(natsStatus s, jsErrCode code) {
  return code != 0 ? fmt::format("{} (JetStream error {})", natsStatus_GetText(s), static_cast<int>(code))
                   : natsStatus_GetText(s);
}

// Connects within endpoint.timeout_ns (reconnecting forever afterwards); "" or the reason.
std::string connect(const Endpoint& e, const std::string& name, natsConnection** nc,
                    natsConnectionHandler on_disconnected = nullptr, void* closure = nullptr) {
  std::string error;
  natsOptions* opts = detail::nats_options(e, name, false, &error);
  if (!opts) return error;
  if (on_disconnected) natsOptions_SetDisconnectedCB(opts, on_disconnected, closure);
  natsStatus s = natsConnection_Connect(nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    *nc = nullptr;
    return fmt::format("nats (JetStream) at {}: {}", redact_urls(e.url), detail::nats_error_text(s));
  }
  return {};
}

// The stream and its durable consumer, created when missing; "" or the reason.
std::string ensure_stream(jsCtx* js, const Endpoint& e) {
  const std::string stream = stream_name(e.request_queue);
  jsErrCode code = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  natsStatus s = js_GetStreamInfo(&si, js, stream.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
  } else {
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char* subjects[1] = {e.request_queue.c_str()};
    sc.Name = stream.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_WorkQueuePolicy;
    sc.MaxMsgs = e.max_pending;
    sc.Discard = js_DiscardNew;
    code = static_cast<jsErrCode>(0);
    s = js_AddStream(&si, js, &sc, nullptr, &code);
    if (s == NATS_OK) jsStreamInfo_Destroy(si);
    else if (code != JSStreamNameExistErr)
      return fmt::format("nats (JetStream) at {}: creating stream {}: {}", redact_urls(e.url), stream, why(s, code));
  }
  jsConsumerInfo* ci = nullptr;
  code = static_cast<jsErrCode>(0);
  s = js_GetConsumerInfo(&ci, js, stream.c_str(), kConsumer, nullptr, &code);
  if (s == NATS_OK) {
    jsConsumerInfo_Destroy(ci);
    return {};
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = kConsumer;
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = 2 * kNanosPerSecond;
  cc.MaxAckPending = 1 << 16;
  code = static_cast<jsErrCode>(0);
  s = js_AddConsumer(&ci, js, stream.c_str(), &cc, nullptr, &code);
  if (s == NATS_OK) jsConsumerInfo_Destroy(ci);
  else if (code != JSConsumerNameExistErr)
    return fmt::format("nats (JetStream) at {}: creating consumer: {}", redact_urls(e.url), why(s, code));
  return {};
}

// As in mq/nats.cpp: nats.c may still be inside a callback after close returns, so callbacks reach
// the requester through a gate that lives as long as the process (a few dozen bytes each).
using Gate = detail::NatsGate;

void on_publish_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* gate = static_cast<Gate*>(closure);
  const char* value = nullptr;
  std::uint64_t id = 0;
  if (msg && natsMsgHeader_Get(msg, kIdHeader, &value) == NATS_OK && value &&
      std::from_chars(value, value + std::strlen(value), id).ec == std::errc()) {
    std::lock_guard lock(gate->mutex);
    if (gate->book) {
      if (pa) gate->book->reply(id, {});
      else if (pae && pae->ErrCode == JSStreamStoreFailedErr) gate->book->fail(id, Outcome::rejected);  // stream full
      else if (pae && pae->Err == NATS_TIMEOUT) gate->book->fail(id, Outcome::transport_error);
      else gate->book->fail(id, Outcome::server_error);
    }
  }
  natsMsg_Destroy(msg);
}


class JetStreamRequester final : public Requester {
 public:
  JetStreamRequester(const Endpoint& endpoint, boost::asio::io_context& io, OnReply on_reply, int index)
      : endpoint_(endpoint), io_(io), book_(std::make_shared<ReplyBook>(io, std::move(on_reply))), index_(index),
        gate_(detail::new_nats_gate()) {
    std::lock_guard lock(gate_->mutex);
    gate_->book = book_;
  }
  ~JetStreamRequester() override { stop(); }

  // nats.c connects synchronously: on a short-lived thread, so the io_context keeps running.
  void start(std::function<void(std::string)> done) override {
    connector_ = std::thread([this, done = std::move(done)] {
      pthread_setname_np(pthread_self(), fmt::format("pb-js-c{}", index_).substr(0, 15).c_str());
      std::string error = setup();
      boost::asio::post(io_, [this, book = book_, done, error] {
        if (book->stopped()) return;
        connected_ = error.empty();
        done(error);
      });
    });
  }

  void request(std::uint64_t correlation_id, std::string_view body) override {
    book_->issue(correlation_id);
    if (!connected_ || natsConnection_Status(connection_) != NATS_CONN_STATUS_CONNECTED)
      return book_->fail(correlation_id, Outcome::unavailable);
    natsMsg* msg = nullptr;
    if (natsMsg_Create(&msg, endpoint_.request_queue.c_str(), nullptr, body.data(), static_cast<int>(body.size())) !=
        NATS_OK)
      return book_->fail(correlation_id, Outcome::transport_error);
    char id[24];
    *std::to_chars(id, id + sizeof id - 1, correlation_id).ptr = '\0';
    natsMsgHeader_Set(msg, kIdHeader, id);
    natsStatus s = js_PublishMsgAsync(js_, &msg, nullptr);  // takes the message on success
    if (s != NATS_OK) {
      natsMsg_Destroy(msg);
      book_->fail(correlation_id, s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ? Outcome::unavailable
                                                                                                   : Outcome::transport_error);
    }
  }

  void stop() override {
    book_->stop();
    if (connector_.joinable()) connector_.join();
    {
      std::lock_guard lock(gate_->mutex);
      gate_->book.reset();
    }
    connected_ = false;
    if (connection_) natsConnection_Close(connection_);
    if (js_) {
      jsCtx_Destroy(js_);
      js_ = nullptr;
    }
    if (connection_) {
      natsConnection_Destroy(connection_);
      connection_ = nullptr;
    }
  }

  std::uint64_t duplicates() const noexcept override { return book_->duplicates(); }

 private:
  std::string setup() {
    if (std::string e = connect(endpoint_, fmt::format("pathbench-js-publisher-{}", index_), &connection_,
                                detail::nats_fail_all_on_disconnect, gate_);
        !e.empty())
      return e;
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = to_ms(endpoint_.timeout_ns);
    o.PublishAsync.AckHandler = on_publish_ack;
    o.PublishAsync.AckHandlerClosure = gate_;
    o.PublishAsync.MaxPending = 1 << 20;  // the load generator's in-flight cap bounds it first
    o.PublishAsync.StallWait = 1;
    if (natsStatus s = natsConnection_JetStream(&js_, connection_, &o); s != NATS_OK)
      return fmt::format("nats (JetStream): {}", natsStatus_GetText(s));
    return ensure_stream(js_, endpoint_);
  }

  const Endpoint endpoint_;
  boost::asio::io_context& io_;
  std::shared_ptr<ReplyBook> book_;
  const int index_;
  Gate* gate_;
  std::thread connector_;
  // Written by the connector thread before it posts `done`; read on the io thread after.
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  bool connected_ = false;  // io thread
};

class JetStreamResponder final : public Responder {
 public:
  JetStreamResponder(const Endpoint& endpoint, int threads, HandlerFactory handlers, std::string worker_id)
      : endpoint_(endpoint), worker_id_(std::move(worker_id)) {
    std::string error = connect(endpoint_, fmt::format("pathbench-js-consumer-{}", worker_id_), &connection_);
    if (error.empty() && natsConnection_JetStream(&js_, connection_, nullptr) != NATS_OK) error = "nats (JetStream): no context";
    if (error.empty()) error = ensure_stream(js_, endpoint_);
    const std::string stream = stream_name(endpoint_.request_queue);
    for (int i = 0; error.empty() && i < threads; ++i) {
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = stream.c_str();
      so.Consumer = kConsumer;  // bound to the durable consumer: destroying the subscription keeps it
      natsSubscription* sub = nullptr;
      jsErrCode code = static_cast<jsErrCode>(0);
      natsStatus s = js_PullSubscribe(&sub, js_, endpoint_.request_queue.c_str(), kConsumer, nullptr, &so, &code);
      if (s != NATS_OK) error = fmt::format("nats (JetStream) at {}: pull subscription: {}", redact_urls(endpoint_.url), why(s, code));
      else subscriptions_.push_back(sub);
    }
    if (!error.empty()) {
      stop();
      throw std::runtime_error(error);
    }
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this, i, handler = handlers(i)] { run(i, handler); });
  }
  ~JetStreamResponder() override { stop(); }

  void stop() override {
    stopping_.store(true);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    for (auto* sub : subscriptions_) natsSubscription_Destroy(sub);  // no unsubscribe: the durable consumer stays
    subscriptions_.clear();
    if (connection_) natsConnection_Close(connection_);
    if (js_) {
      jsCtx_Destroy(js_);
      js_ = nullptr;
    }
    if (connection_) {
      natsConnection_Destroy(connection_);
      connection_ = nullptr;
    }
  }

  // Stops / resumes fetching; messages already fetched are still handled and acked.
  void pause(bool paused) override { paused_.store(paused); }

  Stats stats() const override { return Stats{consumed_.load(), 0, redelivered_.load(), failures_.load()}; }

 private:
  void run(int index, const Handler& handler) {
    pthread_setname_np(pthread_self(), detail::thread_name(worker_id_, fmt::format("js{}", index)).c_str());
    natsSubscription* sub = subscriptions_[static_cast<std::size_t>(index)];
    // One message per fetch: nats.c 3.4's multi-message Fetch handed back invalid messages under
    // overload (a crash in natsMsgList_Destroy / natsMsg_GetDataLength), so the prefetch is not
    // used here; each thread still has one message in hand while others wait in the stream.
    const int batch = 1;
    while (!stopping_.load()) {
      if (paused_.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
        continue;
      }
      natsMsgList list{nullptr, 0};
      jsErrCode code = static_cast<jsErrCode>(0);
      natsStatus s = natsSubscription_Fetch(&list, sub, batch, kPollMs, &code);
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) {
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
        continue;
      }
      for (int i = 0; i < list.Count; ++i) {
        // Stopped mid-batch: the rest stay unacknowledged and are redelivered after the ack wait.
        if (stopping_.load()) break;
        natsMsg* msg = list.Msgs[i];
        if (!msg) continue;
        consumed_.fetch_add(1, std::memory_order_relaxed);
        // Redeliveries are not counted here: nats.c 3.4's natsMsg_GetMetaData corrupted the heap
        // under load with nats-server 2.9's ack subjects (seen as a double free); the path's
        // ledger counts duplicates from the consumers' logs instead.
        handler(std::string_view(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))));
        if (stopping_.load()) break;  // killed while it ran: no ack, a redelivery
        if (natsMsg_Ack(msg, nullptr) != NATS_OK) failures_.fetch_add(1, std::memory_order_relaxed);
      }
      natsMsgList_Destroy(&list);
    }
  }

  const Endpoint endpoint_;
  const std::string worker_id_;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::vector<natsSubscription*> subscriptions_;  // [i]: thread i's
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false}, paused_{false};
  std::atomic<std::uint64_t> consumed_{0}, redelivered_{0}, failures_{0};  // redelivered_: stays 0 (see run)
};

// The durable consumer's pending count (messages stored, not yet delivered), on its own connection.
class JetStreamProbe final : public BacklogProbe {
 public:
  explicit JetStreamProbe(const Endpoint& e) : endpoint_(e) {}
  ~JetStreamProbe() override { close(); }
  std::int64_t depth() override {
    if (!js_) {
      if (!connect(endpoint_, "pathbench-js-probe", &connection_).empty()) return -1;
      if (natsConnection_JetStream(&js_, connection_, nullptr) != NATS_OK) {
        close();
        return -1;
      }
    }
    jsConsumerInfo* ci = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (js_GetConsumerInfo(&ci, js_, stream_name(endpoint_.request_queue).c_str(), kConsumer, nullptr, &code) != NATS_OK)
      return -1;
    const auto pending = static_cast<std::int64_t>(ci->NumPending);
    jsConsumerInfo_Destroy(ci);
    return pending;
  }

 private:
  void close() {
    if (js_) jsCtx_Destroy(js_);
    js_ = nullptr;
    if (connection_) {
      natsConnection_Close(connection_);
      natsConnection_Destroy(connection_);
    }
    connection_ = nullptr;
  }
  Endpoint endpoint_;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace

std::unique_ptr<Requester> make_jetstream_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                                    Requester::OnReply on_reply, int index) {
  return std::make_unique<JetStreamRequester>(endpoint, io, std::move(on_reply), index);
}

std::unique_ptr<Responder> make_jetstream_responder(const Endpoint& endpoint, int threads,
                                                    Responder::HandlerFactory handlers, std::string worker_id) {
  return std::make_unique<JetStreamResponder>(endpoint, threads, std::move(handlers), std::move(worker_id));
}

std::unique_ptr<BacklogProbe> make_jetstream_probe(const Endpoint& endpoint) {
  return std::make_unique<JetStreamProbe>(endpoint);
}

}  // namespace pathbench::mq
