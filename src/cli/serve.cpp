#include <fmt/format.h>

#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/classification.hpp>
#include <boost/program_options.hpp>
#include <csignal>
#include <filesystem>

#include "broker/broker_server.h"
#include "core/url.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/profile.h"
#include "cli/tls_options.h"
#include "net/tls_policy.h"
#include "core/host_port.h"
#include "db/durability.h"
#include "db/pg_connection.h"
#include "report/metrics.h"
#include "roles/balancer.h"
#include "roles/echo_server.h"
#include "roles/queue_worker.h"
#include "roles/task_engine.h"
#include "roles/task_queue_worker.h"
#include "roles/worker.h"
#include "scenario/scenario.h"

namespace pathbench::cli {

namespace po = boost::program_options;

namespace {

// Blocks until SIGINT or SIGTERM; the signals are blocked in every thread first so that
// sigwait, not a default handler, receives them.
int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Nanos duration_option(const po::variables_map& vm, const char* name, Nanos fallback) {
  if (!vm.count(name)) return fallback;
  Nanos v = 0;
  if (!parse_duration(vm[name].as<std::string>(), v) || v == 0)
    throw po::error(fmt::format("--{}: expected a duration > 0 such as \"1s\", found \"{}\"", name,
                                vm[name].as<std::string>()));
  return v;
}

// With `tls` (--tls-*), /metrics is served over https with mutual TLS like the role's other fronts.
std::unique_ptr<MetricsHttpServer> metrics_server(const po::variables_map& vm, std::function<std::string()> text,
                                                  std::shared_ptr<const TlsMaterial> tls = nullptr) {
  if (!vm.count("metrics")) return nullptr;
  auto server = std::make_unique<MetricsHttpServer>(vm["metrics"].as<std::string>(), std::move(text), std::move(tls));
  fmt::print("metrics: {}\n", server->url());
  return server;
}

// --ws-listen: the address, the role's default, or "" for "off".
std::string ws_listen_option(const po::variables_map& vm, const char* fallback) {
  if (!vm.count("ws-listen")) return fallback;
  const std::string value = vm["ws-listen"].as<std::string>();
  return value == "off" ? std::string() : value;
}

}  // namespace

int serve_main(std::span<const std::string> args) {
  po::options_description visible(
      "pathbench serve ROLE [options] — run one role alone until SIGINT/SIGTERM, so a run can span machines\n"
      "roles: worker, balancer, echo, broker. Listens on loopback unless --listen says otherwise");
  visible.add_options()("help,h", "show this help")(
      "listen", po::value<std::string>(), "host:port to listen on (worker 127.0.0.1:50052, balancer 127.0.0.1:50051, echo 127.0.0.1:50050, broker 127.0.0.1:0)")(
      "db", po::value<std::string>()->default_value("data/sales.db"), "worker: the sales database (a SQLite file or a postgresql:// URL)")(
      "threads", po::value<int>()->default_value(2), "worker: SQL threads; echo, broker: I/O threads")(
      "id", po::value<std::string>()->default_value("worker-0"), "worker: its name in replies")(
      "ws-listen", po::value<std::string>(), "worker, balancer: host:port of the WebSocket front (worker 127.0.0.1:50062, balancer 127.0.0.1:50061; \"off\" for none)")(
      "broker-url", po::value<std::string>(), "worker: also consume queue-path requests (and task-path tasks, from REQUEST_QUEUE.tasks) from this broker (tcp://, amqp://, nats://; over TLS with this worker's --tls-* identity: tcps:// = the embedded broker, tls:// = NATS, amqps:// = RabbitMQ)")(
      "broker-kind", po::value<std::string>(), "worker: embedded, rabbitmq or nats (default: from the --broker-url scheme)")(
      "request-queue", po::value<std::string>()->default_value("pathbench.requests"), "worker: the queue (NATS: subject) to consume")(
      "consumers", po::value<int>(), "worker: consumer threads on the request queue, like [broker] consumers (default: --threads)")(
      "prefetch", po::value<int>(), "worker: unacknowledged deliveries per consumer, like [broker] prefetch (default 16)")(
      "task-busy-timeout", po::value<std::string>(), "worker: how long a write to the tasks database waits for its lock, like [task] busy_timeout (default 1s)")(
      "durability", po::value<std::string>()->default_value("full"), "worker: what a committed task write survives, like [database] durability: full, normal or off (docs/database.md)")(
      "workers", po::value<std::string>(), "balancer: comma-separated host:port of the workers")(
      "worker-ws", po::value<std::string>(), "balancer: comma-separated host:port of the workers' WebSocket fronts, same order (enables its WebSocket front)")(
      "policy", po::value<std::string>()->default_value("least_outstanding"), "balancer: least_outstanding, p2c or round_robin")(
      "max-pending", po::value<int>(), "balancer: requests outstanding beyond which it rejects (default 1024); "
      "broker: default queue bound, publishes beyond it are refused (default 10000); "
      "worker: the request queue's bound it declares, like [broker] max_pending (default 10000)")(
      "health-interval", po::value<std::string>(), "balancer: between health checks (default 1s)")(
      "health-timeout", po::value<std::string>(), "balancer: health check deadline (default 500ms)")(
      "grpc-listen", po::value<std::string>(), "broker: host:port of the gRPC MessageQueue front (docs/broker-fronts.md; default off)")(
      "http-listen", po::value<std::string>(), "broker: host:port of the HTTP /api/* and WebSocket /ws/* front (default off)")(
      "metrics", po::value<std::string>(), "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464")(
      "profile", po::value<std::string>(), "write a CPU profile of the whole process until the stop signal into DIR "
      "(profile_ROLE.prof, with .top.txt and .svg from google-pprof)");
  add_tls_options(visible);
  po::options_description all;
  all.add(visible).add_options()("role", po::value<std::string>(), "");
  po::positional_options_description positional;
  positional.add("role", 1);
  po::variables_map vm;
  if (int code = parse_options(args, all, positional, vm, visible); code >= 0) return code;
  if (!vm.count("role")) {
    fmt::print(stderr, "pathbench serve: name a role: worker, balancer, echo or broker\n");
    return kExitBadInput;
  }
  const std::string role = vm["role"].as<std::string>();
  block_stop_signals();
  // --profile DIR: from here until the role has stopped; rendered on the way out.
  struct ProfileScope {
    std::unique_ptr<CpuProfiler> profiler;
    ~ProfileScope() {
      if (!profiler) return;
      profiler->stop();
      for (auto& note : profiler->render()) fmt::print("{}\n", note);
      std::fflush(stdout);
    }
  } profile;
  if (vm.count("profile")) {
    std::filesystem::path dir = vm["profile"].as<std::string>();
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
      fmt::print(stderr, "pathbench serve: --profile: cannot create {}: {}\n", dir.string(), ec.message());
      return kExitBadInput;
    }
    profile.profiler = std::make_unique<CpuProfiler>(dir);
    for (auto& problem : profile.profiler->problems()) fmt::print(stderr, "{}\n", problem);
    profile.profiler->start(role);
  }
  try {
    // worker, balancer: their gRPC servers, WebSocket fronts and /metrics (and the balancer's
    // channels to the workers) speak mutual TLS with these; broker: the native protocol
    // (tcps://), the gRPC front and the HTTP/WebSocket front. The echo server is the raw TCP
    // floor and stays plaintext (loopback, or --insecure).
    const auto tls = read_tls_options(vm);
    if (tls && role == "echo")
      throw po::error("--tls-*: the echo server is the raw TCP floor, plaintext only; off loopback it needs --insecure");
    if (role == "worker") {
      WorkerOptions o;
      o.tls = tls;
      o.listen = vm.count("listen") ? vm["listen"].as<std::string>() : "127.0.0.1:50052";
      o.db_path = vm["db"].as<std::string>();
      o.threads = vm["threads"].as<int>();
      o.id = vm["id"].as<std::string>();
      if (o.threads < 1 || o.threads > 64) throw po::error("--threads: expected 1..64");
      o.task_busy_timeout_ns = duration_option(vm, "task-busy-timeout", o.task_busy_timeout_ns);
      o.task_durability = vm["durability"].as<std::string>();
      if (o.task_durability != "full" && o.task_durability != "normal" && o.task_durability != "off")
        throw po::error(fmt::format("--durability: expected full, normal or off, found \"{}\"", o.task_durability));
      // A server pathbench did not start: the session setting, as a run does (runner/database.cpp).
      if (is_postgres_url(o.db_path.native())) o.db_path = postgres_session_url(o.db_path.native(), o.task_durability);
      o.ws_listen = ws_listen_option(vm, "127.0.0.1:50062");
      WorkerServer worker(o);
      std::unique_ptr<QueueWorker> consumer;
      std::unique_ptr<TaskQueueWorker> task_consumer;  // the task path's queue route
      if (vm.count("broker-url")) {
        QueueWorkerOptions q;
        q.id = o.id;
        q.db_path = o.db_path;
        q.threads = o.threads;
        q.endpoint.url = vm["broker-url"].as<std::string>();
        const std::string& url = q.endpoint.url;
        q.endpoint.kind = vm.count("broker-kind")                ? vm["broker-kind"].as<std::string>()
                          : url.rfind("amqp://", 0) == 0 || url.rfind("amqps://", 0) == 0 ? "rabbitmq"
                          : url.rfind("nats://", 0) == 0 || url.rfind("tls://", 0) == 0 ? "nats"  // tcps://: embedded
                                                                 : "embedded";
        if (q.endpoint.kind != "embedded" && q.endpoint.kind != "rabbitmq" && q.endpoint.kind != "nats")
          throw po::error(fmt::format("--broker-kind: expected embedded, rabbitmq or nats, found \"{}\"", q.endpoint.kind));
        q.endpoint.request_queue = vm["request-queue"].as<std::string>();
        // TLS to the broker when its URL says so (tls:// for nats, amqps://, tcps:// for the
        // embedded broker): this worker's own --tls-cert/--tls-key/--tls-ca identity, the one its
        // gRPC server presents.
        if (is_tls_url(url)) {
          if (vm.count("tls-ca")) q.endpoint.tls.ca = vm["tls-ca"].as<std::string>();
          if (vm.count("tls-cert")) q.endpoint.tls.cert = vm["tls-cert"].as<std::string>();
          if (vm.count("tls-key")) q.endpoint.tls.key = vm["tls-key"].as<std::string>();
          if (vm.count("tls-server-name")) q.endpoint.tls.server_name = vm["tls-server-name"].as<std::string>();
        }
        // The same settings an in-process run gives its queue workers ([broker] in the scenario),
        // so an external worker's broker is compared like for like.
        if (vm.count("consumers")) {
          q.threads = vm["consumers"].as<int>();
          if (q.threads < 1 || q.threads > 64) throw po::error("--consumers: expected 1..64");
        }
        if (vm.count("prefetch")) {
          q.endpoint.prefetch = vm["prefetch"].as<int>();
          if (q.endpoint.prefetch < 1 || q.endpoint.prefetch > 65535) throw po::error("--prefetch: expected 1..65535");
        }
        if (vm.count("max-pending")) {
          q.endpoint.max_pending = vm["max-pending"].as<int>();
          if (q.endpoint.max_pending < 1) throw po::error("--max-pending: expected >= 1");
        }
        consumer = std::make_unique<QueueWorker>(q);
        fmt::print("{} consuming {} from {} ({}; {} consumers, prefetch {}, max_pending {})\n", o.id,
                   q.endpoint.request_queue, redact_urls(url), q.endpoint.kind, q.threads, q.endpoint.prefetch,
                   q.endpoint.max_pending);
        // Tasks sent through the broker (kind = "task", via = "queue") come on the task queue
        // beside it: as many consumers, this worker's task settings (roles/task_queue_worker.h).
        mq::Endpoint tasks = q.endpoint;
        tasks.request_queue = task_queue_name(q.endpoint.request_queue);
        task_consumer = std::make_unique<TaskQueueWorker>(o, tasks, q.threads);
        fmt::print("{} consuming tasks from {} ({} consumers)\n", o.id, tasks.request_queue, q.threads);
      }
      auto metrics = metrics_server(vm, [&] {
        std::vector<std::pair<std::string, TaskEngineStats>> tasks{{o.id, worker.task_stats()}};
        if (task_consumer) tasks.emplace_back(o.id + "-queue", task_consumer->task_stats());
        return workers_exposition({{o.id, worker.stats()}}) + tasks_exposition(tasks);
      }, tls);
      fmt::print("{} serving pathbench.v1.Worker (+ grpc.health.v1, reflection) on {} from {}\n", o.id,
                 worker.address(), redact_urls(o.db_path.string()));
      if (!worker.ws_address().empty())
        fmt::print("{} serving WebSocket on {}://{}/query\n", o.id, tls ? "wss" : "ws", worker.ws_address());
      std::fflush(stdout);
      int signal = wait_for_stop_signal();
      fmt::print("{}: signal {}, draining\n", o.id, signal);
      consumer.reset();  // stop taking queued requests before draining the rest
      task_consumer.reset();
      worker.drain();
      return kExitOk;
    }
    if (role == "balancer") {
      BalancerOptions o;
      o.tls = tls;
      o.listen = vm.count("listen") ? vm["listen"].as<std::string>() : "127.0.0.1:50051";
      if (!vm.count("workers")) throw po::error("--workers: the balancer needs at least one worker address");
      boost::split(o.workers, vm["workers"].as<std::string>(), boost::is_any_of(","));
      auto policy = routing_policy_from_string(vm["policy"].as<std::string>());
      if (!policy) throw po::error(fmt::format("--policy: expected least_outstanding, p2c or round_robin, found \"{}\"",
                                               vm["policy"].as<std::string>()));
      o.routing.policy = *policy;
      o.routing.max_pending = vm.count("max-pending") ? vm["max-pending"].as<int>() : 1024;
      if (o.routing.max_pending < 1) throw po::error("--max-pending: expected at least 1");
      o.health_interval_ns = duration_option(vm, "health-interval", o.health_interval_ns);
      o.health_timeout_ns = duration_option(vm, "health-timeout", o.health_timeout_ns);
      if (vm.count("worker-ws")) {
        boost::split(o.worker_ws, vm["worker-ws"].as<std::string>(), boost::is_any_of(","));
        if (o.worker_ws.size() != o.workers.size())
          throw po::error(fmt::format("--worker-ws: {} addresses for {} workers (one per --workers entry, same order)",
                                      o.worker_ws.size(), o.workers.size()));
        o.ws_listen = ws_listen_option(vm, "127.0.0.1:50061");
      } else {
        o.ws_listen.clear();
      }
      BalancerServer balancer(o);
      auto metrics = metrics_server(vm, [&] { return balancer_exposition(balancer.stats()); }, tls);
      fmt::print("balancer ({}) serving pathbench.v1.Worker on {} over {}\n", to_string(o.routing.policy),
                 balancer.address(), fmt::join(o.workers, ", "));
      if (!balancer.ws_address().empty())
        fmt::print("balancer serving WebSocket on {}://{}/query over {}\n", tls ? "wss" : "ws", balancer.ws_address(),
                   fmt::join(o.worker_ws, ", "));
      std::fflush(stdout);
      wait_for_stop_signal();
      return kExitOk;
    }
    if (role == "echo") {
      EchoServerOptions o;
      std::string listen = vm.count("listen") ? vm["listen"].as<std::string>() : "127.0.0.1:50050";
      const auto parsed = parse_host_port(listen, /*allow_port_zero=*/true);
      if (!parsed) throw po::error("--listen: expected host:port");
      o.host = parsed->host;
      o.port = parsed->port;
      o.threads = vm["threads"].as<int>();
      EchoServer echo(o);
      auto metrics = metrics_server(vm, [&] { return echo_exposition(echo); });
      fmt::print("echo serving raw TCP on {}:{}\n", echo.host(), echo.port());
      std::fflush(stdout);
      wait_for_stop_signal();
      return kExitOk;
    }
    if (role == "broker") {
      broker::BrokerServerOptions o;
      if (vm.count("listen")) o.listen = vm["listen"].as<std::string>();
      if (vm.count("max-pending")) o.max_pending = vm["max-pending"].as<int>();
      if (o.max_pending < 1) throw po::error("--max-pending: expected at least 1");
      o.threads = vm["threads"].as<int>();
      if (o.threads < 1 || o.threads > 64) throw po::error("--threads: expected 1..64");
      if (vm.count("grpc-listen")) o.grpc_listen = vm["grpc-listen"].as<std::string>();
      if (vm.count("http-listen")) o.http_listen = vm["http-listen"].as<std::string>();
      o.tls = tls;
      broker::BrokerServer server(o);
      auto metrics = metrics_server(vm, [&] { return broker::prometheus_exposition(server.stats()); });
      fmt::print("broker serving the native protocol (docs/broker-protocol.md) on {} (max pending {}{})\n",
                 server.url(), o.max_pending, server.tls() ? ", mutual TLS" : "");
      if (!server.grpc_address().empty())
        fmt::print("broker serving gRPC MessageQueue (docs/broker-fronts.md) on {}\n", server.grpc_address());
      if (!server.http_address().empty())
        fmt::print("broker serving HTTP /api/* and WebSocket /ws/* (docs/broker-fronts.md) on {}\n", server.http_address());
      std::fflush(stdout);
      int signal = wait_for_stop_signal();
      fmt::print("broker: signal {}, stopping\n", signal);
      return kExitOk;
    }
    fmt::print(stderr, "pathbench serve: unknown role '{}' (worker, balancer, echo or broker)\n", role);
    return kExitBadInput;
  } catch (const po::error& e) {
    fmt::print(stderr, "pathbench serve {}: {}\n", role, redact_urls(e.what()));
    return kExitBadInput;
  } catch (const net::PlaintextRefused& e) {
    fmt::print(stderr, "pathbench serve {}: {}\n", role, e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "pathbench serve {}: {}\n", role, redact_urls(e.what()));
    return kExitRunFailed;
  }
}

}  // namespace pathbench::cli
