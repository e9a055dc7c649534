// What a user sees while a run goes on: progress lines when stdout is not a terminal, the
// Prometheus endpoint (checked with promtool when it is installed), and timeseries.csv.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <boost/asio.hpp>
#include <future>
#include <regex>
#include <thread>

#include "report/metrics.h"
#include "test_helpers.h"

using namespace pathbench;
using namespace pathbench::testing;

namespace {

// A plain HTTP/1.1 GET over loopback, returning the whole response (headers and body).
std::string http_get(const std::string& host, const std::string& port, const std::string& target) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  asio::connect(socket, resolver.resolve(host, port), ec);
  if (ec) return "";
  std::string request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", target, host);
  asio::write(socket, asio::buffer(request), ec);
  std::string response;
  std::array<char, 4096> buffer;
  for (;;) {
    std::size_t n = socket.read_some(asio::buffer(buffer), ec);
    response.append(buffer.data(), n);
    if (ec) break;
  }
  return response;
}

bool have_promtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("metrics: the registry's exposition has counters and a cumulative histogram per path") {
  MetricsRegistry registry;
  IntervalBucket bucket;
  for (int i = 0; i < 90; ++i) bucket.latency.record(200'000);  // 200 µs
  for (int i = 0; i < 10; ++i) bucket.latency.record(30'000'000);  // 30 ms
  bucket.outcomes[static_cast<std::size_t>(Outcome::ok)] = 100;
  bucket.outcomes[static_cast<std::size_t>(Outcome::timeout)] = 3;
  registry.add_second("p", bucket);
  registry.add_second("p", bucket);
  std::string text = registry.exposition();
  CAPTURE(text);
  CHECK(text.find("pathbench_requests_total{path=\"p\",outcome=\"ok\"} 200\n") != std::string::npos);
  CHECK(text.find("pathbench_requests_total{path=\"p\",outcome=\"timeout\"} 6\n") != std::string::npos);
  CHECK(text.find("pathbench_request_latency_seconds_bucket{path=\"p\",le=\"0.0001\"} 0\n") != std::string::npos);
  CHECK(text.find("pathbench_request_latency_seconds_bucket{path=\"p\",le=\"0.00025\"} 180\n") != std::string::npos);
  CHECK(text.find("pathbench_request_latency_seconds_bucket{path=\"p\",le=\"0.025\"} 180\n") != std::string::npos);
  CHECK(text.find("pathbench_request_latency_seconds_bucket{path=\"p\",le=\"0.05\"} 200\n") != std::string::npos);
  CHECK(text.find("pathbench_request_latency_seconds_bucket{path=\"p\",le=\"+Inf\"} 200\n") != std::string::npos);
  CHECK(text.find("pathbench_request_latency_seconds_count{path=\"p\"} 200\n") != std::string::npos);
}

TEST_CASE("metrics: the HTTP endpoint serves /metrics, 404 elsewhere, 400 on garbage, and stays up") {
  MetricsRegistry registry;
  IntervalBucket bucket;
  bucket.latency.record(1000);
  bucket.outcomes[0] = 1;
  registry.add_second("x", bucket);
  MetricsHttpServer server("127.0.0.1:0", [&] { return registry.exposition(); });
  std::string port = server.address().substr(server.address().rfind(':') + 1);
  std::string ok = http_get("127.0.0.1", port, "/metrics");
  CHECK(ok.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ok.find("text/plain; version=0.0.4") != std::string::npos);
  CHECK(ok.find("pathbench_requests_total{path=\"x\",outcome=\"ok\"} 1") != std::string::npos);
  CHECK(http_get("127.0.0.1", port, "/other").rfind("HTTP/1.1 404", 0) == 0);
  {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))});
    asio::write(socket, asio::buffer(std::string("\x01\x02 garbage\r\n\r\n")));
    std::array<char, 256> buffer{};
    boost::system::error_code ec;
    std::size_t n = socket.read_some(asio::buffer(buffer), ec);
    CHECK(std::string(buffer.data(), n).rfind("HTTP/1.1 400", 0) == 0);
  }
  CHECK(http_get("127.0.0.1", port, "/metrics").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("live output: progress lines without a terminal, metrics during the run, timeseries.csv after") {
  TempDir dir;
  write_file(dir / "s.toml",
             "name = \"live\"\n[load]\nrate_per_s = 200\nduration = \"5s\"\nwarmup = \"0s\"\n[[path]]\nkind = \"tcp_echo\"\n");
  // A fixed port is fragile; pick a free one by binding port 0 first.
  std::string port;
  {
    namespace asio = boost::asio;
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = std::to_string(a.local_endpoint().port());
  }
  auto run = std::async(std::launch::async, [&] {
    return run_pathbench("run " + (dir / "s.toml").string() + " --metrics 127.0.0.1:" + port + " --out " +
                         (dir / "out").string());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  std::string scraped = http_get("127.0.0.1", port, "/metrics");
  auto r = run.get();
  CAPTURE(r.output);
  CHECK(r.exit_code == 0);
  CHECK(std::regex_search(r.output, std::regex("tcp_echo \\[main\\] +5/5s +[0-9]+ req/s +p99 +[0-9.]+ us +errors 0 +timeouts 0 +in flight [0-9]+\n")));
  CHECK(r.output.find("\033[K") == std::string::npos);  // no terminal control codes in a pipe
  CAPTURE(scraped);
  auto body_at = scraped.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  CHECK(std::regex_search(scraped, std::regex("pathbench_requests_total\\{path=\"tcp_echo\",outcome=\"ok\"\\} [1-9][0-9]*")));
  if (have_promtool()) {
    write_file(dir / "metrics.txt", scraped.substr(body_at + 4));
    CHECK(std::system(("promtool check metrics < " + (dir / "metrics.txt").string() + " >/dev/null 2>&1").c_str()) == 0);
  } else {
    MESSAGE("promtool not installed: exposition format not checked by it");
  }
  std::string ts = read_file(dir / "out" / "timeseries.csv");
  CHECK(ts.rfind("path,phase,second,time_s,completed,ok,errors,timeouts,rejected,achieved_rate_per_s,p50_us,p99_us,max_us,in_flight,marker\n", 0) == 0);
  for (int s = 0; s < 5; ++s)
    CHECK(std::regex_search(ts, std::regex(fmt::format("\ntcp_echo,main,{},{}\\.0,(19[0-9]|20[0-9]|21[0-9]),", s, s))));
}
