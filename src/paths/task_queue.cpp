// The task path's queue route (`via = "queue"`, paths/task_route.h): each task, once its row is
// `received`, goes as a serialized TaskRequest to the broker's task queue through the queue
// path's mq::Requester (reply-to + correlation id = the load generator's wire id); a
// TaskQueueWorker (roles/task_queue_worker.h) claims, works and finishes it and replies with a
// TaskReply whose `status` carries what a gRPC Task call's status would.
#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "paths/grpc_common.h"
#include "paths/task_route.h"
#include "wire/query_codec.h"

namespace pathbench {

namespace asio = boost::asio;

namespace {

// The outcome a TaskReply body stands for (ok only with a parsed reply and no error status).
Outcome reply_outcome(v1::TaskReply& reply, std::string_view body) {
  if (!reply.ParseFromArray(body.data(), static_cast<int>(body.size()))) return Outcome::protocol_error;
  if (reply.has_status() && reply.status().code() != 0)
    return outcome_from_status(static_cast<grpc::StatusCode>(reply.status().code()));
  return Outcome::ok;
}

// Runs on the client thread; the requester calls back on the same io_context.
class QueueTaskClient final : public PathClient {
 public:
  QueueTaskClient(asio::io_context& io, const mq::Endpoint& endpoint, std::unique_ptr<TaskProducer> producer,
                  int thread_index)
      : producer_(std::move(producer)), sink_(producer_->sink()) {
    requester_ = mq::make_requester(
        endpoint, io,
        [this](std::uint64_t correlation_id, Outcome outcome, std::string_view body) {
          on_reply(correlation_id, outcome, body);
        },
        thread_index);
  }

  void start(std::function<void(std::string)> done) override { requester_->start(std::move(done)); }

  void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) override {
    if (slot >= in_flight_.size()) in_flight_.resize(slot + 1);
    InFlight& entry = in_flight_[slot];
    // The load generator reused the slot: the request it held timed out with no reply yet.
    if (entry.active) producer_->failed(entry.task_id, entry.type, entry.query);
    entry.active = false;
    if (!producer_->produce(slot, request_id, query, request_)) return;
    const std::uint64_t wire = wire_id(slot, request_id);
    request_.set_request_id(wire);
    entry = {true, wire, request_.task_id(), static_cast<int>(request_.type()), query};
    body_.clear();
    request_.AppendToString(&body_);
    requester_->request(wire, body_);
  }

  void stop() override {
    requester_->stop();
    // No reply comes any more: every task still out is the audit's to settle.
    for (auto& entry : in_flight_)
      if (entry.active) producer_->failed(entry.task_id, entry.type, entry.query);
    in_flight_.clear();
  }

 private:
  struct InFlight {
    bool active = false;
    std::uint64_t wire = 0;
    std::int64_t task_id = 0;
    int type = 0;
    Query query;
  };

  void on_reply(std::uint64_t correlation_id, Outcome outcome, std::string_view body) {
    const std::uint32_t slot = slot_of(correlation_id);
    const std::uint64_t id = id_of(correlation_id);
    InFlight* entry = slot < in_flight_.size() && in_flight_[slot].active && in_flight_[slot].wire == correlation_id
                          ? &in_flight_[slot]
                          : nullptr;
    if (outcome == Outcome::ok) outcome = reply_outcome(reply_, body);
    if (entry) {
      entry->active = false;
      if (outcome != Outcome::ok) producer_->failed(entry->task_id, entry->type, entry->query);
    }
    // (No entry: a late reply whose slot was reused, its task already in the ledger; the sink
    // counts it late.)
    if (outcome != Outcome::ok) return sink_.complete(slot, id, outcome);
    const Hops hops{0, reply_.worker_total_ns(), reply_.worker_queue_ns(), reply_.worker_sql_ns()};
    sink_.complete(slot, id, outcome, &hops);
  }

  std::unique_ptr<TaskProducer> producer_;
  CompletionSink& sink_;
  std::unique_ptr<mq::Requester> requester_;
  std::vector<InFlight> in_flight_;  // by slot
  v1::TaskRequest request_;          // reused: serialized right away
  std::string body_;
  v1::TaskReply reply_;
};

class QueueTaskRoute final : public TaskRoute {
 public:
  QueueTaskRoute(const Scenario& scenario, const std::string& run_id, mq::Endpoint endpoint)
      : scenario_(scenario), run_id_(run_id), endpoint_(std::move(endpoint)) {}

  std::unique_ptr<PathClient> make_client(asio::io_context& io, std::unique_ptr<TaskProducer> producer,
                                          int thread_index) override {
    return std::make_unique<QueueTaskClient>(io, endpoint_, std::move(producer), thread_index);
  }

  std::string endpoint() const override {
    // Credentials stay out of the results.
    std::string url = endpoint_.url;
    if (auto at = url.find('@'), scheme = url.find("://"); at != std::string::npos && scheme != std::string::npos)
      url = url.substr(0, scheme + 3) + url.substr(at + 1);
    return fmt::format("{} ({}, queue {})", url, endpoint_.kind, endpoint_.request_queue);
  }

  // One requester of its own on a private io_context, every task published at once (correlation
  // id = its index), run until each is answered or the round's deadline.
  std::vector<const TaskLedger::Failed*> redeliver(const std::vector<const TaskLedger::Failed*>& pending,
                                                   std::int64_t& done, Nanos give_up_ns) override {
    asio::io_context io;
    std::vector<int> answer(pending.size(), -1);  // -1 waiting, 1 ok, 0 not ok
    std::size_t remaining = pending.size();
    v1::TaskReply reply;
    std::unique_ptr<mq::Requester> requester;
    try {
      requester = mq::make_requester(
          endpoint_, io,
          [&](std::uint64_t index, Outcome outcome, std::string_view body) {
            if (index >= answer.size() || answer[index] != -1) return;
            answer[index] = outcome == Outcome::ok && reply_outcome(reply, body) == Outcome::ok ? 1 : 0;
            --remaining;
          },
          900000);
    } catch (const std::exception&) {
      return pending;  // the broker is gone: nothing can be sent
    }
    const Nanos deadline_ns = std::min(now_ns() + scenario_.load.deadline_ns, give_up_ns);
    auto run_until = [&](const std::function<bool()>& finished) {
      while (!finished() && now_ns() < deadline_ns) {
        if (io.stopped()) io.restart();
        if (io.run_for(std::chrono::milliseconds(10)) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    };
    bool started = false;
    std::string why;
    requester->start([&](std::string reason) {
      started = true;
      why = std::move(reason);
    });
    run_until([&] { return started; });
    if (started && why.empty()) {
      v1::TaskRequest request;
      std::string body;
      for (std::size_t i = 0; i < pending.size(); ++i) {
        fill_task_request(request, pending[i]->task_id, run_id_, pending[i]->type, pending[i]->query, scenario_.task);
        request.set_request_id(i);
        body.clear();
        request.AppendToString(&body);
        requester->request(i, body);
      }
      run_until([&] { return remaining == 0; });
    }
    requester->stop();
    std::vector<const TaskLedger::Failed*> still;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (answer[i] == 1) ++done;
      else still.push_back(pending[i]);
    }
    return still;
  }

 private:
  const Scenario& scenario_;
  const std::string& run_id_;
  mq::Endpoint endpoint_;
};

}  // namespace

std::unique_ptr<TaskRoute> make_queue_task_route(const Scenario& scenario, const std::string& run_id,
                                                 mq::Endpoint endpoint) {
  return std::make_unique<QueueTaskRoute>(scenario, run_id, std::move(endpoint));
}

}  // namespace pathbench
