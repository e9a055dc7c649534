#include "mq/mq.h"

#include <fmt/format.h>

#include <stdexcept>

#include "mq/backends.h"

namespace pathbench::mq {

std::unique_ptr<Requester> make_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                          Requester::OnReply on_reply, int index) {
  if (endpoint.kind == "embedded") return make_embedded_requester(endpoint, io, std::move(on_reply), index);
  if (endpoint.kind == "rabbitmq") return make_rabbitmq_requester(endpoint, io, std::move(on_reply), index);
  if (endpoint.kind == "nats") return make_nats_requester(endpoint, io, std::move(on_reply), index);
  throw std::runtime_error(fmt::format("unknown broker kind \"{}\"", endpoint.kind));
}

std::unique_ptr<Responder> make_responder(const Endpoint& endpoint, int threads, Responder::HandlerFactory handlers,
                                          std::string worker_id) {
  if (endpoint.kind == "embedded") return make_embedded_responder(endpoint, threads, std::move(handlers), std::move(worker_id));
  if (endpoint.kind == "rabbitmq") return make_rabbitmq_responder(endpoint, threads, std::move(handlers), std::move(worker_id));
  if (endpoint.kind == "nats") return make_nats_responder(endpoint, threads, std::move(handlers), std::move(worker_id));
  throw std::runtime_error(fmt::format("unknown broker kind \"{}\"", endpoint.kind));
}

}  // namespace pathbench::mq
