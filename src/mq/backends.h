// The implementations behind mq/mq.h's factories, one pair per broker kind (mq/mq.cpp picks).
#pragma once
#include "mq/mq.h"

namespace pathbench::mq {

// embedded: pathbench's broker over its native protocol (mq/embedded.cpp).
std::unique_ptr<Requester> make_embedded_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                                   Requester::OnReply on_reply, int index);
std::unique_ptr<Responder> make_embedded_responder(const Endpoint& endpoint, int threads,
                                                   Responder::HandlerFactory handlers, std::string worker_id);
// rabbitmq: AMQP 0-9-1 through rabbitmq-c (mq/rabbitmq.cpp).
std::unique_ptr<Requester> make_rabbitmq_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                                   Requester::OnReply on_reply, int index);
std::unique_ptr<Responder> make_rabbitmq_responder(const Endpoint& endpoint, int threads,
                                                   Responder::HandlerFactory handlers, std::string worker_id);
// nats: request/reply through nats.c, responders in a queue group (mq/nats.cpp).
std::unique_ptr<Requester> make_nats_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                               Requester::OnReply on_reply, int index);
std::unique_ptr<Responder> make_nats_responder(const Endpoint& endpoint, int threads,
                                               Responder::HandlerFactory handlers, std::string worker_id);
// nats with one_way and durable: JetStream (mq/jetstream.cpp); the nats factories above hand over.
std::unique_ptr<Requester> make_jetstream_requester(const Endpoint& endpoint, boost::asio::io_context& io,
                                                    Requester::OnReply on_reply, int index);
std::unique_ptr<Responder> make_jetstream_responder(const Endpoint& endpoint, int threads,
                                                    Responder::HandlerFactory handlers, std::string worker_id);

}  // namespace pathbench::mq
