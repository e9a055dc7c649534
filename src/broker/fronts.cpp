#include "broker/fronts.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <boost/beast/http.hpp>
#include <charconv>
#include <climits>
#include <stdexcept>

#include "broker/api_json.h"
#include "messagequeue.grpc.pb.h"
#include "net/grpc_server.h"
#include "net/websocket.h"

namespace pathbench::broker {

namespace http = boost::beast::http;

Status front_publish(Broker& broker, std::string_view queue, std::string body) {
  if (queue.empty()) queue = kDefaultQueue;
  Message message;
  message.body = std::move(body);
  Status status = broker.publish(queue, message);
  if (status != Status::no_queue) return status;
  // First use of this name: declare it with the broker's bound, then publish. A concurrent
  // declare of the same name is harmless (declare is idempotent with equal options).
  if (queue.size() > 255) return Status::precondition_failed;
  if (Status d = broker.declare(queue); d != Status::ok) return d;
  return broker.publish(queue, std::move(message));
}

std::string_view front_error_text(Status status) noexcept {
  switch (status) {
    case Status::ok: return "";
    case Status::overflow: return "broker overflow";
    case Status::empty: return "queue empty";
    case Status::no_queue: return "queue empty";  // nothing was ever published there
    case Status::no_subscriber: return "subscriber not found";
    case Status::precondition_failed: return "bad queue name";
    default: return to_string(status);
  }
}

namespace {

// Consume from a queue that may not exist yet: nothing there either way.
Status front_get(Broker& broker, std::string_view queue, Delivery& out) {
  if (queue.empty()) queue = kDefaultQueue;
  return broker.try_get(queue, out);
}

// ---------------------------------------------------------------- gRPC (QuickPulse)

using v1::StreamMessage;

// One read, then its answer written, then the next read: answers keep the order of requests and
// at most one write is in flight, so the reactor needs no lock (gRPC serialises its reactions
// that way: OnReadDone starts a write, OnWriteDone starts the next read).
class StreamCall final : public grpc::ServerBidiReactor<StreamMessage, StreamMessage> {
 public:
  explicit StreamCall(Broker& broker) : broker_(broker) { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);  // the client half-closed (or went away)
    reply_.Clear();
    reply_.set_queue(request_.queue());
    Status status = Status::ok;
    if (!request_.payload().empty()) status = front_publish(broker_, request_.queue(), std::move(*request_.mutable_payload()));
    if (status == Status::ok) {
      Delivery d;
      status = front_get(broker_, request_.queue(), d);
      if (status == Status::ok) reply_.set_payload(d.message->body);
    }
    if (status != Status::ok) reply_.set_error(std::string(front_error_text(status)));
    StartWrite(&reply_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  Broker& broker_;
  StreamMessage request_, reply_;
};

class MessageQueueService final : public v1::MessageQueue::CallbackService {
 public:
  explicit MessageQueueService(Broker& broker) : broker_(broker) {}

  grpc::ServerUnaryReactor* Produce(grpc::CallbackServerContext* context, const v1::ProduceRequest* request,
                                    v1::ProduceResponse* response) override {
    // The request is const: its payload is copied once into the broker's message.
    Status status = front_publish(broker_, request->queue(), request->payload());
    response->set_success(status == Status::ok);
    if (status != Status::ok) response->set_error(std::string(front_error_text(status)));
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Consume(grpc::CallbackServerContext* context, const v1::ConsumeRequest* request,
                                    v1::ConsumeResponse* response) override {
    Delivery d;
    Status status = front_get(broker_, request->queue(), d);
    if (status == Status::ok) response->set_payload(d.message->body);
    else response->set_error(std::string(front_error_text(status)));
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerBidiReactor<StreamMessage, StreamMessage>* StreamMessages(grpc::CallbackServerContext*) override {
    return new StreamCall(broker_);
  }

 private:
  Broker& broker_;
};

// ---------------------------------------------------------------- HTTP + WebSocket

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

// ?queue=NAME (percent-decoding: %XX and '+'); "" when absent.
std::string queue_of(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.rfind("queue=", 0) != 0) continue;
    std::string out;
    std::string_view v = pair.substr(6);
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '+') {
        out.push_back(' ');
      } else if (v[i] == '%' && i + 2 < v.size()) {
        unsigned x = 0;
        auto r = std::from_chars(v.data() + i + 1, v.data() + i + 3, x, 16);
        if (r.ec == std::errc{} && r.ptr == v.data() + i + 3) {
          out.push_back(static_cast<char>(x));
          i += 2;
        } else {
          out.push_back('%');
        }
      } else {
        out.push_back(v[i]);
      }
    }
    return out;
  }
  return {};
}

enum class WsRole { publish, consume };
struct WsConnection {
  WsRole role;
  std::string queue;
};

net::HttpResponse json_response(const net::HttpRequest& request, http::status status, std::string body) {
  net::HttpResponse res{status, request.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body) + "\n";
  return res;
}

net::HttpResponse json_response(const net::HttpRequest& request, http::status status, const ApiJson& body) {
  return json_response(request, status, dump_api_json(body));
}

net::HttpResponse error_response(const net::HttpRequest& request, http::status status, std::string_view message) {
  return json_response(request, status, ApiJson{{"message", message}});
}

// A required string member: "" when present and a string, else the 400 reason.
std::string require_string(const ApiJson& o, std::string_view key, std::string& out) {
  auto it = o.find(key);
  if (it == o.end()) return fmt::format("missing field \"{}\"", key);
  if (!it->is_string()) return fmt::format("field \"{}\" must be a string", key);
  if (it->get_ref<const std::string&>().empty()) return fmt::format("field \"{}\" must not be empty", key);
  out = it->get<std::string>();
  return {};
}

http::status http_status_of(Status s) {
  switch (s) {
    case Status::ok: return http::status::ok;
    case Status::overflow: return http::status::insufficient_storage;  // 507
    case Status::no_subscriber: return http::status::not_found;
    default: return http::status::internal_server_error;
  }
}

}  // namespace

// ---------------------------------------------------------------- GrpcFront

struct GrpcFront::Impl {
  Impl(Broker& broker, const std::string& listen, std::size_t max_message_bytes, std::shared_ptr<const TlsMaterial> tls)
      : service(broker) {
    net::GrpcServerOptions o;
    o.listen = listen;
    o.tls = std::move(tls);
    o.what = "broker gRPC front";
    o.max_receive_message_bytes = static_cast<std::int64_t>(std::min<std::size_t>(max_message_bytes, INT_MAX));
    server = std::make_unique<net::GrpcServer>(
        o, std::vector<net::GrpcService>{{&service, v1::MessageQueue::service_full_name()}});
  }
  ~Impl() {
    // Open StreamMessages calls are cancelled at the deadline; Shutdown returns when all are done.
    server->shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  }
  MessageQueueService service;
  std::unique_ptr<net::GrpcServer> server;
};

GrpcFront::GrpcFront(Broker& broker, const std::string& listen, std::size_t max_message_bytes,
                     std::shared_ptr<const TlsMaterial> tls)
    : impl_(std::make_unique<Impl>(broker, listen, max_message_bytes, std::move(tls))) {}
GrpcFront::~GrpcFront() = default;
std::string GrpcFront::address() const { return impl_->server->address(); }

// ---------------------------------------------------------------- HttpFront

struct HttpFront::Impl final : net::WsHandler {
  Impl(Broker& b, const std::string& listen, std::size_t max_message_bytes, int threads, const std::string& thread_name,
       std::shared_ptr<const TlsMaterial> tls)
      : broker(b) {
    net::WsServerOptions o;
    o.listen = listen;
    o.tls = std::move(tls);
    o.name = "broker HTTP front";
    o.threads = threads;
    o.thread_name = thread_name;
    o.max_http_body_bytes = max_message_bytes;
    o.limits.max_message_bytes = max_message_bytes;
    server = std::make_unique<net::WsServer>(o, *this);
  }
  ~Impl() { server->stop(); }

  bool accepts(std::string_view target) const override {
    auto p = path_of(target);
    return p == "/ws/publish" || p == "/ws/consume";
  }

  void on_open(const std::shared_ptr<net::WsChannel>& channel) override {
    const std::string& target = channel->target();
    channel->user = std::make_shared<WsConnection>(
        WsConnection{path_of(target) == "/ws/publish" ? WsRole::publish : WsRole::consume, queue_of(target)});
  }

  void on_message(const std::shared_ptr<net::WsChannel>& channel, std::string_view payload, bool) override {
    auto& c = *static_cast<WsConnection*>(channel->user.get());
    if (c.role == WsRole::publish) {
      Status s = front_publish(broker, c.queue, std::string(payload));
      channel->send(s == Status::ok ? std::string("ok") : fmt::format("error: {}", front_error_text(s)), false);
      return;
    }
    Delivery d;
    Status s = front_get(broker, c.queue, d);
    if (s == Status::ok) channel->send(d.message->body, true);
    else channel->send(fmt::format("error: {}", front_error_text(s)), false);
  }

  net::HttpResponse on_http(const net::HttpRequest& request) override {
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = path_of(target);
    if (accepts(target)) return WsHandler::on_http(request);  // 426: these speak WebSocket
    const bool known = path == "/api/publish" || path == "/api/publish/async" || path == "/api/subscribe" || path == "/api/fetch";
    if (!known) return error_response(request, http::status::not_found, "not found");
    if (request.method() != http::verb::post) {
      auto res = error_response(request, http::status::method_not_allowed, "method not allowed");
      res.set(http::field::allow, "POST");
      return res;
    }
    ApiJson body;
    if (auto e = parse_api_object(request.body(), body); !e.empty())
      return error_response(request, http::status::bad_request, "bad json: " + e);
    std::string subject, problem;
    if (auto e = require_string(body, "subject", subject); !e.empty()) return error_response(request, http::status::bad_request, e);

    if (path == "/api/publish" || path == "/api/publish/async") {
      // async: GopherMQ answers before its worker pool publishes (and loses overflow); the core's
      // publish never waits, so both publish at once and report the outcome.
      auto data = body.find("data");
      if (data == body.end()) return error_response(request, http::status::bad_request, "missing field \"data\"");
      if (!data->is_string()) return error_response(request, http::status::bad_request, "field \"data\" must be a string");
      Message m;
      m.body = std::move(data->get_ref<std::string&>());
      Status s = broker.publish_subject(subject, std::move(m));
      if (s != Status::ok) return error_response(request, http_status_of(s), front_error_text(s));
      return json_response(request, http::status::ok, ApiJson{{"status", "ok"}});
    }
    if (path == "/api/subscribe") {
      std::uint64_t id = 0;
      Status s = broker.subscribe(subject, id);
      if (s != Status::ok) return error_response(request, http_status_of(s), front_error_text(s));
      return json_response(request, http::status::ok, ApiJson{{"id", std::to_string(id)}, {"subject", subject}});
    }
    // /api/fetch
    std::string id_text;
    if (auto e = require_string(body, "id", id_text); !e.empty()) return error_response(request, http::status::bad_request, e);
    std::uint64_t id = 0;
    auto r = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    std::vector<MessagePtr> messages;
    // An id that is not one of ours is as unknown as a number we never gave out.
    Status s = r.ec == std::errc{} && r.ptr == id_text.data() + id_text.size() ? broker.fetch(subject, id, messages)
                                                                              : Status::no_subscriber;
    if (s != Status::ok) return error_response(request, http_status_of(s), front_error_text(s));
    ApiJson data = ApiJson::array();
    for (auto& m : messages) data.push_back(m->body);
    return json_response(request, http::status::ok,
                         ApiJson{{"subject", std::move(subject)}, {"id", std::move(id_text)}, {"data", std::move(data)}});
  }

  Broker& broker;
  std::unique_ptr<net::WsServer> server;
};

HttpFront::HttpFront(Broker& broker, const std::string& listen, std::size_t max_message_bytes, int threads,
                     const std::string& thread_name, std::shared_ptr<const TlsMaterial> tls)
    : impl_(std::make_unique<Impl>(broker, listen, max_message_bytes, threads, thread_name, std::move(tls))) {}
HttpFront::~HttpFront() = default;
std::string HttpFront::address() const { return impl_->server->address(); }

}  // namespace pathbench::broker
