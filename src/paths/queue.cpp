#include "paths/queue.h"

#include <fmt/format.h>

#include "mq/mq.h"
#include "paths/grpc_common.h"
#include "paths/endpoints.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// Runs on the client thread; the requester calls back on the same io_context.
class QueuePathClient final : public PathClient {
 public:
  QueuePathClient(asio::io_context& io, CompletionSink& sink, const Scenario& scenario, const mq::Endpoint& endpoint,
                  int thread_index)
      : sink_(sink), deadline_ns_(scenario.load.deadline_ns) {
    requester_ = mq::make_requester(
        endpoint, io,
        [this](std::uint64_t correlation_id, Outcome outcome, std::string_view body) {
          on_reply(correlation_id, outcome, body);
        },
        thread_index);
  }

  void start(std::function<void(std::string)> done) override { requester_->start(std::move(done)); }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    to_proto(query, 0, request_);
    const std::uint64_t wire = wire_id(slot, request_id);
    request_.set_request_id(wire);
    request_.set_timeout_ns(deadline_ns_);
    request_.set_sent_ns(now_ns());
    body_.clear();
    request_.AppendToString(&body_);
    requester_->request(wire, body_);
  }

  void stop() override { requester_->stop(); }

 private:
  void on_reply(std::uint64_t correlation_id, Outcome outcome, std::string_view body) {
    const std::uint32_t slot = slot_of(correlation_id);
    const std::uint64_t id = id_of(correlation_id);
    if (outcome != Outcome::ok) return sink_.complete(slot, id, outcome);
    if (!reply_.ParseFromArray(body.data(), static_cast<int>(body.size())) || reply_.request_id() != correlation_id)
      return sink_.complete(slot, id, Outcome::protocol_error);
    const Hops hops = hops_from(reply_);
    sink_.complete(slot, id, outcome_from_status(static_cast<grpc::StatusCode>(reply_.status().code())), &hops);
  }

  CompletionSink& sink_;
  const Nanos deadline_ns_;
  std::unique_ptr<mq::Requester> requester_;
  v1::QueryRequest request_;  // reused: serialized right away
  std::string body_;
  v1::QueryReply reply_;
};

class QueuePathInstance final : public PathInstance {
 public:
  QueuePathInstance(const Scenario& scenario, mq::Endpoint endpoint) : scenario_(scenario), endpoint_(std::move(endpoint)) {}
  std::unique_ptr<PathClient> make_client(asio::io_context& io, CompletionSink& sink, int thread_index) override {
    return std::make_unique<QueuePathClient>(io, sink, scenario_, endpoint_, thread_index);
  }
  std::string endpoint() const override {
    // Credentials stay out of the results.
    std::string url = endpoint_.url;
    if (auto at = url.find('@'), scheme = url.find("://"); at != std::string::npos && scheme != std::string::npos)
      url = url.substr(0, scheme + 3) + url.substr(at + 1);
    return fmt::format("{} ({}, queue {})", url, endpoint_.kind, endpoint_.request_queue);
  }

 private:
  const Scenario& scenario_;
  mq::Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<PathInstance> create_queue(const Scenario& scenario, const PathSpec& spec, Endpoints& endpoints) {
  return std::make_unique<QueuePathInstance>(scenario, endpoints.queue_endpoint(spec.via));
}

}  // namespace pathbench
