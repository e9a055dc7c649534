#include "report/metrics.h"

#include <fmt/format.h>
#include <pthread.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

namespace pathbench {

namespace {

// Latency bucket bounds in seconds: 10 µs .. 10 s, roughly 1-2.5-5 per decade.
constexpr std::array<double, 19> kLatencyBoundsSeconds{
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
    25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0,   2.5,    5.0,    10.0};

// Label values escape backslash, double quote and newline.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void MetricsRegistry::add_second(const std::string& path, const IntervalBucket& bucket) {
  // Bucket counts computed outside the lock: a second's histogram walk, once per second.
  std::vector<std::uint64_t> counts(kLatencyBoundsSeconds.size() + 1, 0);
  double sum = 0;
  std::uint64_t n = 0;
  bucket.latency.for_each_recorded([&](std::int64_t value_ns, std::int64_t count) {
    double seconds = static_cast<double>(value_ns) / 1e9;
    std::size_t i = 0;
    while (i < kLatencyBoundsSeconds.size() && seconds > kLatencyBoundsSeconds[i]) ++i;
    counts[i] += static_cast<std::uint64_t>(count);
    sum += seconds * static_cast<double>(count);
    n += static_cast<std::uint64_t>(count);
  });
  std::lock_guard lock(mutex_);
  PathSeries& s = paths_[path];
  if (s.bucket_counts.empty()) s.bucket_counts.assign(counts.size(), 0);
  for (std::size_t i = 0; i < kOutcomeCount; ++i) s.outcomes[i] += static_cast<std::uint64_t>(bucket.outcomes[i]);
  for (std::size_t i = 0; i < counts.size(); ++i) s.bucket_counts[i] += counts[i];
  s.sum_seconds += sum;
  s.count += n;
}

void MetricsRegistry::set_roles_source(std::function<std::string()> source) {
  std::lock_guard lock(mutex_);
  roles_source_ = std::move(source);
}

std::string MetricsRegistry::exposition() const {
  std::string out;
  std::function<std::string()> roles;
  {
    std::lock_guard lock(mutex_);
    roles = roles_source_;
    if (!paths_.empty()) {
      out += "# HELP pathbench_requests_total Requests completed by the load generator, by path and outcome.\n"
             "# TYPE pathbench_requests_total counter\n";
      for (auto& [path, s] : paths_)
        for (auto o : kAllOutcomes)
          out += fmt::format("pathbench_requests_total{{path=\"{}\",outcome=\"{}\"}} {}\n", label(path), to_string(o),
                             s.outcomes[static_cast<std::size_t>(o)]);
      out += "# HELP pathbench_request_latency_seconds Latency of ok requests, from the intended send time.\n"
             "# TYPE pathbench_request_latency_seconds histogram\n";
      for (auto& [path, s] : paths_) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < kLatencyBoundsSeconds.size(); ++i) {
          cumulative += s.bucket_counts[i];
          out += fmt::format("pathbench_request_latency_seconds_bucket{{path=\"{}\",le=\"{}\"}} {}\n", label(path),
                             kLatencyBoundsSeconds[i], cumulative);
        }
        out += fmt::format("pathbench_request_latency_seconds_bucket{{path=\"{}\",le=\"+Inf\"}} {}\n", label(path), s.count);
        out += fmt::format("pathbench_request_latency_seconds_sum{{path=\"{}\"}} {}\n", label(path), s.sum_seconds);
        out += fmt::format("pathbench_request_latency_seconds_count{{path=\"{}\"}} {}\n", label(path), s.count);
      }
    }
  }
  if (roles) out += roles();
  return out;
}

std::string balancer_exposition(const BalancerStats& s) {
  std::string out =
      "# HELP pathbench_balancer_requests_total Requests the balancer received, forwarded, rejected (over max_pending) "
      "or answered UNAVAILABLE.\n# TYPE pathbench_balancer_requests_total counter\n";
  out += fmt::format("pathbench_balancer_requests_total{{result=\"received\"}} {}\n", s.received);
  out += fmt::format("pathbench_balancer_requests_total{{result=\"forwarded\"}} {}\n", s.forwarded);
  out += fmt::format("pathbench_balancer_requests_total{{result=\"rejected\"}} {}\n", s.rejected);
  out += fmt::format("pathbench_balancer_requests_total{{result=\"unavailable\"}} {}\n", s.unavailable);
  struct Family {
    const char* name;
    const char* type;
    const char* help;
    std::uint64_t (*value)(const BackendSnapshot&);
  };
  static constexpr Family kFamilies[] = {
      {"pathbench_balancer_worker_in_flight", "gauge", "Requests outstanding on each worker.",
       [](const BackendSnapshot& b) { return static_cast<std::uint64_t>(b.in_flight); }},
      {"pathbench_balancer_worker_routed_total", "counter", "Requests routed to each worker.",
       [](const BackendSnapshot& b) { return b.routed; }},
      {"pathbench_balancer_worker_failures_total", "counter", "Failed requests per worker.",
       [](const BackendSnapshot& b) { return b.failures; }},
      {"pathbench_balancer_worker_ejections_total", "counter", "Times each worker was ejected.",
       [](const BackendSnapshot& b) { return b.ejections; }},
      {"pathbench_balancer_worker_ejected", "gauge", "1 while the worker is ejected.",
       [](const BackendSnapshot& b) { return static_cast<std::uint64_t>(b.ejected ? 1 : 0); }},
  };
  for (auto& f : kFamilies) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.type);
    for (auto& b : s.backends) out += fmt::format("{}{{worker=\"{}\"}} {}\n", f.name, label(b.address), f.value(b));
  }
  return out;
}

std::string workers_exposition(const std::vector<std::pair<std::string, WorkerStats>>& workers) {
  std::string out =
      "# HELP pathbench_worker_queries_total Queries each worker answered, by result.\n"
      "# TYPE pathbench_worker_queries_total counter\n";
  for (auto& [id, s] : workers) {
    const std::pair<const char*, std::uint64_t> results[] = {{"received", s.received},
                                                             {"ok", s.ok},
                                                             {"invalid_argument", s.invalid},
                                                             {"deadline_exceeded", s.deadline_exceeded},
                                                             {"rejected", s.rejected},
                                                             {"failed", s.failed}};
    for (auto& [result, n] : results)
      out += fmt::format("pathbench_worker_queries_total{{worker=\"{}\",result=\"{}\"}} {}\n", label(id), result, n);
  }
  return out;
}

// ---- HTTP ----------------------------------------------------------------------------------

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class MetricsSession : public std::enable_shared_from_this<MetricsSession> {
 public:
  MetricsSession(tcp::socket socket, const std::function<std::string()>& text)
      : stream_(std::move(socket)), text_(text) {}
  void start() {
    parser_.header_limit(8 * 1024);
    parser_.body_limit(64 * 1024);
    stream_.expires_after(std::chrono::seconds(5));
    http::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return close();
    response_.version(11);
    response_.keep_alive(false);
    response_.set(http::field::server, "pathbench");
    if (ec) {
      response_.result(http::status::bad_request);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "bad request\n";
    } else {
      auto& request = parser_.get();
      std::string_view target(request.target().data(), request.target().size());
      if (request.method() == http::verb::get && (target == "/metrics" || target.rfind("/metrics?", 0) == 0)) {
        response_.result(http::status::ok);
        response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        response_.body() = text_();
      } else {
        response_.result(http::status::not_found);
        response_.set(http::field::content_type, "text/plain");
        response_.body() = "pathbench serves GET /metrics only\n";
      }
    }
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, std::size_t) { self->close(); });
  }
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  const std::function<std::string()>& text_;
};

}  // namespace

struct MetricsHttpServer::Impl {
  Impl(const std::string& listen, std::function<std::string()> t) : text(std::move(t)), acceptor(io) {
    auto colon = listen.rfind(':');
    boost::system::error_code ec;
    if (colon == std::string::npos) throw std::runtime_error(fmt::format("metrics: expected host:port, found '{}'", listen));
    auto address = asio::ip::make_address(listen.substr(0, colon), ec);
    int port = 0;
    try {
      port = std::stoi(listen.substr(colon + 1));
    } catch (...) {
      port = -1;
    }
    if (ec || port < 0 || port > 65535)
      throw std::runtime_error(fmt::format("metrics: expected host:port, found '{}'", listen));
    tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::runtime_error(fmt::format("metrics: cannot listen on {}: {}", listen, ec.message()));
    bound = fmt::format("{}:{}", listen.substr(0, colon), acceptor.local_endpoint().port());
    do_accept();
    thread = std::thread([this] {
      pthread_setname_np(pthread_self(), "pb-metrics");
      io.run();
    });
  }
  ~Impl() {
    io.stop();
    thread.join();
  }
  void do_accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) std::make_shared<MetricsSession>(std::move(socket), text)->start();
      do_accept();
    });
  }

  std::function<std::string()> text;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::string bound;
  std::thread thread;
};

MetricsHttpServer::MetricsHttpServer(const std::string& listen, std::function<std::string()> text)
    : impl_(std::make_unique<Impl>(listen, std::move(text))) {}
MetricsHttpServer::~MetricsHttpServer() = default;
std::string MetricsHttpServer::address() const { return impl_->bound; }

std::string roles_exposition(const Topology& topology) {
  std::string text;
  if (auto* balancer = topology.balancer()) text += balancer_exposition(balancer->stats());
  auto workers = topology.worker_stats();
  if (!workers.empty()) text += workers_exposition(workers);
  return text;
}

}  // namespace pathbench
