#include "broker/native_client.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <cstring>

#include "broker/native_server.h"
#include "core/host_port.h"
#include "core/url.h"

namespace pathbench::broker {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string strip_tcp_scheme(const std::string& url) {
  for (std::string_view scheme : {"tcp://", "tcps://"})
    if (url.rfind(scheme, 0) == 0) return url.substr(scheme.size());
  if (url.find("://") != std::string::npos) return "";
  return url;
}

NativeClientTls native_client_tls(const TlsMaterial* material, const std::string& what) {
  if (!material) return {};
  return {net::make_tls_context(*material, /*server=*/false, what), material->server_name};
}

NativeClientTls native_client_tls(const std::string& url, const TlsFiles& files) {
  const std::string what = "embedded broker at " + url;
  if (files.empty() && !is_tls_url(url)) return {};
  if (files.ca.empty() || files.cert.empty() || files.key.empty())
    throw std::runtime_error(fmt::format("{}: TLS needs ca, cert and key (mutual TLS: [tls] / [tls.broker], or serve's "
                                         "--tls-ca --tls-cert --tls-key)", what));
  return native_client_tls(load_tls_material(files).get(), what);  // the material carries files.server_name
}

NativeClient::NativeClient(asio::io_context& io, std::size_t max_frame_bytes, NativeClientTls tls)
    : io_(io), resolver_(io), socket_(io.get_executor(), std::move(tls.context)), server_name_(std::move(tls.server_name)),
      connect_timer_(io), max_frame_bytes_(max_frame_bytes) {}

NativeClient::~NativeClient() = default;

void NativeClient::connect(const std::string& address, Nanos timeout_ns, OnFrame on_frame, OnClosed on_closed,
                           std::function<void(const std::string&)> done) {
  on_frame_ = std::move(on_frame);
  on_closed_ = std::move(on_closed);
  connect_done_ = std::move(done);
  const auto host_port = parse_host_port(strip_tcp_scheme(address));
  if (!host_port) {
    state_ = State::closed;
    auto d = std::move(connect_done_);
    asio::post(io_, [d = std::move(d), address] { d(fmt::format("bad broker address '{}' (expected tcp://host:port)", address)); });
    return;
  }
  if (server_name_.empty()) server_name_ = host_port->host;
  state_ = State::connecting;
  connect_timer_.expires_after(std::chrono::nanoseconds(timeout_ns));
  connect_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->state_ != State::connecting) return;
    self->fail("connect timed out");
  });
  resolver_.async_resolve(host_port->host, std::to_string(host_port->port),
                          [self = shared_from_this()](boost::system::error_code ec, tcp::resolver::results_type results) {
                            if (self->state_ != State::connecting) return;
                            if (ec) return self->fail("resolve: " + ec.message());
                            asio::async_connect(self->socket_.tcp_socket(), results,
                                                [self](boost::system::error_code ec, const tcp::endpoint&) {
                                                  self->on_connected(ec);
                                                });
                          });
}

void NativeClient::on_connected(const boost::system::error_code& ec) {
  if (state_ != State::connecting) return;
  if (ec) return fail("connect: " + ec.message());
  boost::system::error_code ignored;
  socket_.tcp_socket().set_option(tcp::no_delay(true), ignored);
  if (!socket_.tls()) return on_handshake({});
  socket_.async_handshake(/*server=*/false, server_name_, [self = shared_from_this()](boost::system::error_code ec) {
    self->on_handshake(ec);
  });
}

void NativeClient::on_handshake(const boost::system::error_code& ec) {
  if (state_ != State::connecting) return;
  if (ec) return fail("TLS handshake: " + ec.message());
  connect_timer_.cancel();
  state_ = State::open;
  if (auto done = std::move(connect_done_)) done("");
  if (state_ != State::open) return;  // closed from inside done()
  do_read();
  do_write();  // frames sent from inside done()
}

void NativeClient::send(const protocol::Frame& frame) {
  if (state_ == State::closed) return;
  protocol::encode_frame(frame, out_);
  if (!dispatching_) do_write();
}

void NativeClient::flush() { do_write(); }

void NativeClient::do_write() {
  if (state_ != State::open || writing_ || out_.empty()) return;
  std::swap(out_, in_flight_);
  out_.clear();
  writing_ = true;
  asio::async_write(socket_, asio::buffer(in_flight_),
                    [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_write(ec); });
}

void NativeClient::on_write(const boost::system::error_code& ec) {
  writing_ = false;
  if (state_ != State::open) return;
  if (ec) return fail("write: " + ec.message());
  in_flight_.clear();
  do_write();
}

void NativeClient::do_read() {
  const auto room = in_.prepare();
  socket_.async_read_available(asio::buffer(room.data(), room.size()),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void NativeClient::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (state_ != State::open) return;
  if (ec) return fail(ec == asio::error::eof ? "connection closed by the broker" : "read: " + ec.message());
  in_.commit(n);
  // Keep ourselves alive even if a callback drops the last outside reference.
  auto self = shared_from_this();
  dispatching_ = true;
  while (state_ == State::open) {
    auto r = protocol::decode_frame(in_.readable(), max_frame_bytes_);
    if (r.kind == protocol::DecodeResult::Kind::need_more) break;
    if (r.kind == protocol::DecodeResult::Kind::error) {
      dispatching_ = false;
      return fail(fmt::format("{} frame from the broker", to_string(r.error)));
    }
    in_.consume(r.consumed);  // before the callback: it may close us
    on_frame_(r.frame);
  }
  dispatching_ = false;
  if (state_ != State::open) return;
  do_write();
  do_read();
}

void NativeClient::fail(const std::string& reason) {
  if (state_ == State::closed) return;
  const bool was_connecting = state_ == State::connecting;
  close();
  if (was_connecting) {
    if (auto done = std::move(connect_done_)) done(reason);
  } else if (auto closed = std::move(on_closed_)) {
    closed(reason);
  }
}

void NativeClient::close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  connect_timer_.cancel();
  resolver_.cancel();
  socket_.close();
  // The callbacks stay (one of them may be running now); the state check keeps them silent.
}

}  // namespace pathbench::broker
