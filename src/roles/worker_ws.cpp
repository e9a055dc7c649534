#include "roles/worker_ws.h"

#include "pathbench.pb.h"
#include "roles/query_engine.h"

namespace pathbench {
namespace {

// One request that came over WebSocket, waiting for its answer; deletes itself once answered.
// Holds the channel so an answer from an SQL thread can always be handed to its strand (a
// closed channel drops it).
class WsAnswer final : public AnswerSink {
 public:
  WsAnswer(std::shared_ptr<net::WsChannel> channel, const std::string& worker_id)
      : channel_(std::move(channel)), worker_id_(worker_id) {}
  void complete(std::uint64_t request_id, Answer answer) override {
    v1::QueryReply reply;
    fill_reply(reply, request_id, answer, worker_id_);
    channel_->send(reply.SerializeAsString());
    delete this;
  }
  bool cancelled() const noexcept override { return !channel_->open(); }

 private:
  std::shared_ptr<net::WsChannel> channel_;
  const std::string& worker_id_;
};

}  // namespace

bool WorkerWsFront::accepts(std::string_view target) const { return target == "/query" || target == "/"; }

void WorkerWsFront::on_message(const std::shared_ptr<net::WsChannel>& channel, std::string_view payload, bool binary) {
  const Nanos received_ns = now_ns();
  if (!binary) return channel->close(net::CloseCode::protocol_error, "binary frames only: a pathbench.v1.QueryRequest");
  v1::QueryRequest request;
  if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    return channel->close(net::CloseCode::protocol_error, "not a pathbench.v1.QueryRequest");
  const Nanos deadline_ns = request.timeout_ns() > 0 ? received_ns + request.timeout_ns() : kNoDeadline;
  engine_.accept(request, received_ns, deadline_ns, *new WsAnswer(channel, engine_.id()));
}

}  // namespace pathbench
