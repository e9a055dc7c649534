// The one validated configuration of a run. Loaded once from TOML (scenario/loader.h),
// then passed as `const Scenario&`; nothing reads argv, the environment or TOML after that.
// Every field has its default here and is documented in docs/scenarios.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/tls_config.h"

namespace pathbench {

// The scenario's [query] table.
struct QueryMixConfig {
  double echo_weight = 0.0;
  double point_weight = 0.0;
  double heavy_weight = 1.0;
  std::int64_t heavy_range_days = 30;      // width of the heavy query's date range
  std::int32_t heavy_window_minutes = 240;  // width of its time-of-day window
};

// The balancer's routing policy and limits ([balancer] table; roles/balancer_core.h applies them).
enum class RoutingPolicy : std::uint8_t { least_outstanding, p2c, round_robin };
std::string_view to_string(RoutingPolicy policy) noexcept;
std::optional<RoutingPolicy> routing_policy_from_string(std::string_view name) noexcept;

struct BalancerPolicyConfig {
  RoutingPolicy policy = RoutingPolicy::least_outstanding;
  int max_pending = 1024;
  int failure_threshold = 5;          // consecutive request failures that eject
  int unhealthy_threshold = 3;        // consecutive health-check misses that eject
  int healthy_threshold = 2;          // consecutive health-check passes that re-admit
  Nanos base_ejection_ns = 1 * kNanosPerSecond;
  Nanos max_ejection_ns = 30 * kNanosPerSecond;
  std::uint64_t seed = 42;            // p2c's random choices
};

enum class LoadMode : std::uint8_t { open, closed };
enum class Arrival : std::uint8_t { constant, poisson };

// One step of a shaped load: a constant rate, or a linear ramp from rate_per_s to ramp_to_per_s.
struct LoadPhase {
  std::string name;
  Nanos duration_ns = 0;
  double rate_per_s = 0;     // 0 in a file = the load's rate_per_s
  double ramp_to_per_s = 0;  // 0 = no ramp
};

struct LoadConfig {
  LoadMode mode = LoadMode::open;
  Arrival arrival = Arrival::constant;
  double rate_per_s = 1000.0;          // open loop: total intended requests per second
  int concurrency = 64;                // closed loop: requests in flight; open loop: cap on in flight
  int threads = 1;                     // client threads (each with its own connections)
  Nanos duration_ns = 10 * kNanosPerSecond;  // measured phase
  Nanos warmup_ns = 2 * kNanosPerSecond;     // before it, not reported in the main results
  Nanos deadline_ns = 2 * kNanosPerSecond;   // per request
  // Open loop: wake this long before each intended send and busy-wait the rest, so sends leave
  // on time rather than a timer wake-up late (0: off). Costs a client thread's CPU for that
  // long per send (e.g. 50 µs at 1,000/s: 5 % of a core).
  Nanos spin_ns = 0;
  // Shaped load after the warm-up: steps and ramps, each measured and reported on its own.
  // Empty: one measured phase "main" of duration_ns at rate_per_s.
  std::vector<LoadPhase> phases;
};

struct DatabaseConfig {
  std::filesystem::path path = "data/sales.db";  // relative to the working directory
  std::int64_t sales = 100'000;                  // rows to seed when the file is missing
  // [database] kind / url / durability (docs/database.md):
  std::string kind = "sqlite";      // sqlite | postgres
  std::string url = "auto";         // postgres: "auto" = a private server for the run, else postgresql://...
  std::string durability = "full";  // full | normal | off: what a commit survives
  // For kind = "postgres", the runner (runner/database.h) points `path` at the server's URL in
  // the scenario it runs, so workers, the load generator and the executor open it unchanged
  // (written results show it with any password redacted).
};

// The workers the query-carrying paths reach: spawned in-process, or external (`endpoints`).
struct WorkersConfig {
  int count = 2;                       // spawned workers
  int threads = 2;                     // SQL threads per worker
  int max_queue = 4096;                // queued queries per worker beyond which it rejects
  std::vector<std::string> endpoints;  // "host:port" of running `pathbench serve worker`s; spawns none
  std::vector<std::string> ws_endpoints;  // their WebSocket fronts, same order (for websocket paths)
  std::string listen_host = "127.0.0.1";
};

// [echo]: the raw TCP echo server of `tcp_echo` paths: spawned in-process, or a running
// `pathbench serve echo` at `endpoint`.
struct EchoConfig {
  std::string endpoint;  // "host:port"; empty = spawn one on loopback
};

// The balancer in front of the workers (paths with via = "balancer").
struct BalancerConfig {
  BalancerPolicyConfig routing;                        // policy, limits, ejection
  Nanos health_interval_ns = 1 * kNanosPerSecond;      // active health checks (grpc.health.v1)
  Nanos health_timeout_ns = 500 * kNanosPerMilli;
  std::string endpoint;                                // "host:port" of a running `pathbench serve balancer`
  std::string ws_endpoint;                             // its WebSocket front (for websocket paths)
  std::string listen_host = "127.0.0.1";
};

// [broker]: the message broker(s) behind `queue` paths. A queue path's `via` names the broker
// kind; `url` applies to `kind`, every other kind a path uses is started privately ("auto").
struct BrokerConfig {
  std::string kind = "embedded";   // embedded | rabbitmq | nats: the default via of queue paths
  std::string url = "auto";        // for `kind`: "auto" = start one (embedded: in-process;
                                   // rabbitmq/nats: a private server); else tcp:// amqp:// nats://
  std::string request_queue = "pathbench.requests";
  int max_pending = 10000;         // request queue bound: publishes beyond it are rejected
  int prefetch = 16;               // unacknowledged deliveries per consumer
  int consumers = 0;               // consumer threads per worker; 0 = workers.threads
  bool direct_reply_to = false;    // rabbitmq: amq.rabbitmq.reply-to instead of a reply queue
  Nanos heartbeat_ns = 10 * kNanosPerSecond;  // rabbitmq heartbeats
};

// [knee]: search each path's highest sustainable open-loop rate instead of one run (runner/knee.h).
struct KneeConfig {
  bool enabled = false;                // a [knee] table turns it on
  Nanos slo_p99_ns = 10 * kNanosPerMilli;
  double max_error_ratio = 0.001;      // (errors + timeouts + rejected) / issued
  double low_rate_per_s = 100;
  double high_rate_per_s = 20000;
  double resolution = 0.05;            // stop when high/low - 1 is below this
  Nanos probe_duration_ns = 3 * kNanosPerSecond;
  Nanos probe_warmup_ns = 1 * kNanosPerSecond;
};

// Something done to the system under test during each path's run, at a time from its start line.
enum class FaultAction : std::uint8_t {
  kill_worker,
  restart_worker,
  slow_worker,
  pause_worker,
  resume_worker,
  drop_connections,
  pause_consumers,   // queue paths: every worker stops taking requests off the queue (target unused)
  resume_consumers
};
std::string_view to_string(FaultAction action) noexcept;

struct FaultSpec {
  Nanos at_ns = 0;        // from the path's start line (the warm-up counts)
  FaultAction action = FaultAction::kill_worker;
  int target = 0;         // worker index (0-based) among the spawned workers
  Nanos delay_ns = 0;     // slow_worker: added per query (0 puts it back to normal)
  int line = 0, column = 0;
};

// [agents]: remote load generators (`pathbench agent`, docs/distributed.md). Non-empty makes
// `run` the coordinator: each agent runs a contiguous range of load.threads, all start on one
// start line, and their results are merged exactly.
struct AgentsConfig {
  std::vector<std::string> endpoints;  // "host:port" of each agent's control channel
};

// [tls] (docs/scenarios.md, "TLS"): mutual TLS on the run's gRPC links. The table's ca/cert/key
// are the load's client identity and every role's default; [tls.worker] and [tls.balancer]
// override them key by key for that role (the balancer's channels to the workers included). Paths are resolved relative to the scenario file and checked readable when
// it is loaded; the PEM contents are read when the run starts (core/tls_config.h).
struct TlsRoleFiles {
  std::filesystem::path ca, cert, key;
  std::string server_name;  // clients: the name to verify in servers' certificates ("" = the host)
};
struct TlsConfig {
  bool present = false;    // a [tls] table was written (not a key)
  bool enabled = true;     // false: the table is kept but everything is plaintext
  bool insecure = false;   // allow plaintext listeners off loopback (each prints a WARNING)
  TlsRoleFiles files;      // the table's own ca, cert, key, server_name
  TlsRoleFiles worker, balancer;
  // [tls.broker]: the queue paths' and queue workers' identity on the link to a broker given by
  // [broker] url (tls:// amqps://, or any url once this table is written); docs/scenarios.md.
  TlsRoleFiles broker;
  // The files `role` ("client", "worker", "balancer", "broker") uses: its keys, else the
  // table's; empty when TLS is off.
  TlsFiles for_role(std::string_view role) const;
  bool on() const noexcept { return present && enabled; }
};

// [task]: the `task` path's tasks (seed 003): the type mix and what each type does, docs/tasks.md.
struct TaskConfig {
  double query_weight = 3.0;   // one query of the [query] mix on the worker (heavy by default)
  double cpu_weight = 1.0;     // a CPU burn of cpu_us on the worker's task thread
  double write_weight = 1.0;   // write_rows inserts + one counter update in one transaction
  std::int64_t cpu_us = 500;
  int write_rows = 10;
  int payload_bytes = 64;      // the task row's payload column
  Nanos lease_ns = 5 * kNanosPerSecond;          // a claim's length: past it the task may be reclaimed
  Nanos busy_timeout_ns = 1 * kNanosPerSecond;   // SQLite: how long a write waits for the lock
};

struct PathSpec {
  std::string kind;         // a name from the path registry (paths/registry.h, passed to the loader as PathKinds)
  std::string label;        // unique in the scenario; defaults to kind, or kind_via when via is set
  std::string via;          // "direct", "balancer", ...; must be one the path supports; default: its first
  int connections = 1;      // per client thread (TCP connections / gRPC channels)
  int streams = 1;          // grpc_stream: bidirectional streams per channel
  int message_bytes = 64;   // size of an echo message (tcp_echo) / padding of echo queries; messaging: body size
  // kind = "messaging" only (paths/messaging.h): persistent messages in a durable queue (RabbitMQ)
  // / JetStream file storage (NATS); a message older than max_age_ns when consumed is expired
  // (0 = no limit); how long after the last phase to wait for the backlog to empty.
  bool durable = false;
  Nanos max_age_ns = 0;
  Nanos drain_ns = 30 * kNanosPerSecond;
  // kind = "broker" over websocket / http only (docs/broker-fronts.md): publishing and consuming
  // connections per client thread, all on the thread's queue, producing and consuming
  // concurrently (one of each: the plain publish->consume workload); http: publish with
  // GopherMQ's /api/publish/async instead of /api/publish (key `async`).
  int producers = 1;
  int consumers = 1;
  bool publish_async = false;
  int line = 0, column = 0;  // where the [[path]] table starts, for messages
};

// An objective the run is held to ([slo] in the scenario, or `run --fail-if`): crossed when a
// measured (path, phase) row's `metric` OP `limit`; `pathbench run` then exits 3 (scenario/slo.h).
struct Objective {
  std::string path;       // a path label, or "" for every path
  std::string metric;     // a summary.csv column (p99_us, achieved_rate_per_s, ...) or "error_ratio"
  char op = '>';          // '>' or '<'
  double limit = 0;       // in the column's unit (µs for latencies, 1/s for rates, 0..1 for error_ratio)
  std::string text;       // as written, for messages: `p99 = "20ms"` or `p99>20ms`
  int line = 0, column = 0;  // where it is in the scenario file (0: from the command line)
};

struct Scenario {
  std::filesystem::path file;  // where it was loaded from ("" when built in code)
  std::string name = "scenario";
  std::string description;
  std::uint64_t seed = 42;     // drives every random choice of the run
  LoadConfig load;
  DatabaseConfig database;
  QueryMixConfig query;
  WorkersConfig workers;
  EchoConfig echo;
  BalancerConfig balancer;
  BrokerConfig broker;
  KneeConfig knee;
  TaskConfig task;
  std::vector<FaultSpec> faults;  // applied in each path's run; undone before the next path
  std::vector<PathSpec> paths;
  AgentsConfig agents;
  TlsConfig tls;
  std::vector<Objective> objectives;  // [slo] then --fail-if, in that order
};

// A scenario name or path label is used as a file name inside the results folder: letters,
// digits, '_', '-', '.', at most 100 characters, and not "." or "..".
bool is_file_name(std::string_view name) noexcept;

// The run of one path as the load plans it: warm-up plus the measured phase or the [[load.phase]]
// steps; and how many requests an open loop's measured phases ask for in total.
Nanos planned_length_ns(const LoadConfig& load) noexcept;
double expected_measured_requests(const LoadConfig& load) noexcept;

std::string_view to_string(LoadMode mode) noexcept;
std::string_view to_string(Arrival arrival) noexcept;

// The broker a request path goes through: queue and messaging paths by their `via`, the task
// route through the queue by [broker] kind; "" for a path over no broker (a `broker` path
// measures the in-process broker itself).
std::string path_broker_kind(const Scenario& scenario, const PathSpec& path);
// Where the run finds broker `kind`: [broker] url names the server of [broker] kind only; any
// other kind, and url = "auto", is "auto" — started by the run (embedded: in process;
// rabbitmq / nats: a private server).
std::string broker_url_for(const BrokerConfig& broker, const std::string& kind);

// Durations as written in scenarios: "30s", "250ms", "1.5s", "2m", "100us", "500ns", "1h".
// Returns false on anything else.
bool parse_duration(std::string_view text, Nanos& out) noexcept;
std::string format_duration(Nanos ns);

}  // namespace pathbench
