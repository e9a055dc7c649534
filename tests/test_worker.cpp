// The worker role over its real wire: a WorkerServer on a small seeded database, called with
// gRPC's synchronous stubs. Answers are checked against QueryExecutor's own answer for the same
// parameters; faults (bad parameters, deadlines, overload, oversized and garbage input, drain)
// are checked by the status the client sees and by the server still serving afterwards.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "db/executor.h"
#include "db/query.h"
#include "db/seeder.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "pathbench.grpc.pb.h"
#include "paths/grpc_common.h"
#include "roles/query_engine.h"
#include "roles/worker.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
using namespace pathbench;
using grpc::StatusCode;

namespace {

// One small database shared by every case: seeding per case would dominate the run.
const fs::path& worker_db() {
  static testing::TempDir dir;
  static const fs::path path = [] {
    const fs::path p = dir / "worker.db";
    seed_database({p, 20'000, 11, false});
    return p;
  }();
  return path;
}

WorkerOptions options_for_test(const std::string& id = "worker-7") {
  WorkerOptions o;
  o.id = id;
  o.db_path = worker_db();
  o.threads = 2;
  return o;
}

std::unique_ptr<v1::Worker::Stub> stub_for(const WorkerServer& worker) {
  return v1::Worker::NewStub(grpc::CreateChannel(worker.address(), grpc::InsecureChannelCredentials()));
}

// Every call in these tests has a deadline, so a broken server fails a case instead of hanging it.
void set_deadline(grpc::ClientContext& context, int ms = 5'000) {
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

constexpr std::int64_t kJan2024 = 1'704'067'200;  // 2024-01-01T00:00:00Z
constexpr std::int64_t kDaySeconds = 86'400;

Query heavy_query(int variant) {
  Query q;
  q.kind = QueryKind::heavy;
  q.from_epoch_s = kJan2024 + variant * 17 * kDaySeconds;
  q.to_epoch_s = q.from_epoch_s + (30 + variant % 5 * 40) * kDaySeconds;
  q.category_id = 1 + variant % 12;
  q.minute_from = 60 * (variant % 10);
  q.minute_to = q.minute_from + 600;
  return q;
}

Query point_query(std::int64_t sale_id) {
  Query q;
  q.kind = QueryKind::point;
  q.sale_id = sale_id;
  return q;
}

// The same mapping the gRPC paths use (paths/grpc_common), not a copy of it.
v1::QueryRequest to_request(const Query& q, std::uint64_t request_id) {
  v1::QueryRequest r;
  to_proto(q, 0, r);
  r.set_request_id(request_id);
  return r;
}

// The answer the worker must give: the executor's own, on a connection of the test's.
QueryResult expected(const Query& q) {
  static QueryExecutor executor(worker_db());
  const QueryOutcome outcome = executor.run(q, kNoDeadline);
  REQUIRE(outcome.status == QueryStatus::ok);
  return outcome.result;
}

grpc::Status call(v1::Worker::Stub& stub, const v1::QueryRequest& request, v1::QueryReply& reply, int deadline_ms = 5'000) {
  grpc::ClientContext context;
  set_deadline(context, deadline_ms);
  return stub.Query(&context, request, &reply);
}

grpc::Status echo(v1::Worker::Stub& stub, std::uint64_t request_id = 1) {
  v1::QueryRequest request;
  request.set_request_id(request_id);
  request.set_kind(v1::QUERY_KIND_ECHO);
  v1::QueryReply reply;
  return call(stub, request, reply);
}

// Waits (bounded) until `predicate` holds: counters on the server side settle after the reply.
template <class Predicate>
bool eventually(Predicate predicate, int ms = 2'000) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return predicate();
}

grpc::health::v1::HealthCheckResponse::ServingStatus health(const std::string& address, const std::string& service,
                                                            grpc::Status& status) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  set_deadline(context, 2'000);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  status = stub->Check(&context, request, &response);
  return response.status();
}

std::uint16_t port_of(const std::string& address) {
  return static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
}

}  // namespace

TEST_CASE("worker: heavy and point answers equal the executor's, with the worker's timings") {
  WorkerServer worker(options_for_test());
  auto stub = stub_for(worker);
  for (int variant = 0; variant < 8; ++variant) {
    const Query q = heavy_query(variant);
    v1::QueryReply reply;
    const grpc::Status status = call(*stub, to_request(q, 100 + variant), reply);
    REQUIRE_MESSAGE(status.ok(), status.error_message());
    const QueryResult want = expected(q);
    CHECK(reply.request_id() == 100u + variant);
    CHECK(reply.count() == want.count);
    CHECK(reply.sum_cents() == want.sum_cents);
    CHECK(reply.worker_id() == "worker-7");
    CHECK(reply.worker_sql_ns() > 0);
    CHECK(reply.worker_queue_ns() >= 0);
    CHECK(reply.worker_total_ns() >= reply.worker_sql_ns() + reply.worker_queue_ns());
    CHECK(reply.balancer_ns() == 0);
  }
  CHECK(expected(heavy_query(0)).count > 0);  // the range really selects something

  for (std::int64_t sale_id : {1, 777, 20'000, 20'001}) {
    const Query q = point_query(sale_id);
    v1::QueryReply reply;
    const grpc::Status status = call(*stub, to_request(q, 7), reply);
    REQUIRE_MESSAGE(status.ok(), status.error_message());
    const QueryResult want = expected(q);
    CHECK(reply.count() == want.count);
    CHECK(reply.sum_cents() == want.sum_cents);
  }
  CHECK(eventually([&] { return worker.stats().ok == 12; }));
  CHECK(worker.stats().received == 12);
}

TEST_CASE("worker: echo is answered without the queue and echoes the request id") {
  WorkerServer worker(options_for_test());
  auto stub = stub_for(worker);
  v1::QueryRequest request;
  request.set_request_id(0xfeedbeefcafe);
  request.set_kind(v1::QUERY_KIND_ECHO);
  v1::QueryReply reply;
  REQUIRE(call(*stub, request, reply).ok());
  CHECK(reply.request_id() == 0xfeedbeefcafeu);
  CHECK(reply.count() == 0);
  CHECK(reply.worker_queue_ns() == 0);
  CHECK(reply.worker_sql_ns() == 0);
  CHECK(reply.worker_id() == "worker-7");
}

TEST_CASE("worker: an echo-only worker needs no database") {
  WorkerOptions o = options_for_test();
  o.db_path.clear();
  WorkerServer worker(o);
  auto stub = stub_for(worker);
  CHECK(echo(*stub).ok());
  v1::QueryReply reply;
  CHECK(call(*stub, to_request(point_query(1), 1), reply).error_code() == StatusCode::FAILED_PRECONDITION);
}

TEST_CASE("worker: bad parameters get INVALID_ARGUMENT naming the field") {
  WorkerServer worker(options_for_test());
  auto stub = stub_for(worker);
  const auto check_invalid = [&](v1::QueryRequest request, const std::string& field) {
    v1::QueryReply reply;
    const grpc::Status status = call(*stub, request, reply);
    CHECK(status.error_code() == StatusCode::INVALID_ARGUMENT);
    CHECK_MESSAGE(status.error_message().find(field) != std::string::npos, status.error_message());
  };
  Query q = heavy_query(1);
  q.minute_to = 5000;
  check_invalid(to_request(q, 1), "minute_to");
  q = heavy_query(1);
  q.category_id = 0;
  check_invalid(to_request(q, 2), "category_id");
  q = heavy_query(1);
  q.to_epoch_s = q.from_epoch_s;
  check_invalid(to_request(q, 3), "to_epoch_s");
  check_invalid(to_request(point_query(0), 4), "sale_id");
  v1::QueryRequest unknown_kind = to_request(point_query(1), 5);
  unknown_kind.set_kind(static_cast<v1::QueryKind>(7));
  check_invalid(unknown_kind, "kind");
  CHECK(eventually([&] { return worker.stats().invalid == 5; }));
}

TEST_CASE("worker: a query that cannot meet its deadline gets DEADLINE_EXCEEDED") {
  WorkerServer worker(options_for_test());
  auto stub = stub_for(worker);
  REQUIRE(echo(*stub).ok());  // connected first: the 50 ms are for the worker, not the handshake
  worker.set_added_delay(200 * kNanosPerMilli);
  v1::QueryReply reply;
  const auto started = std::chrono::steady_clock::now();
  CHECK(call(*stub, to_request(heavy_query(2), 1), reply, 50).error_code() == StatusCode::DEADLINE_EXCEEDED);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(190));
  CHECK(eventually([&] { return worker.stats().deadline_exceeded == 1; }));

  // The worker gives up at the deadline too, instead of sleeping out the delay and running it.
  worker.set_added_delay(10 * kNanosPerSecond);
  CHECK(call(*stub, to_request(heavy_query(2), 2), reply, 50).error_code() == StatusCode::DEADLINE_EXCEEDED);
  CHECK(eventually([&] { return worker.stats().deadline_exceeded == 2; }, 2'000));

  worker.set_added_delay(0);
  REQUIRE(call(*stub, to_request(heavy_query(2), 3), reply, 2'000).ok());
  CHECK(reply.count() == expected(heavy_query(2)).count);
}

TEST_CASE("worker: a stream carries 100 requests in flight, replies matched by request id") {
  WorkerServer worker(options_for_test());
  auto stub = stub_for(worker);
  grpc::ClientContext context;
  set_deadline(context);
  auto stream = stub->QueryStream(&context);
  std::map<std::uint64_t, Query> sent;
  for (std::uint64_t id = 1; id <= 100; ++id) {
    Query q;
    switch (id % 3) {
      case 0: q = heavy_query(static_cast<int>(id)); break;
      case 1: q = point_query(static_cast<std::int64_t>(id * 131)); break;
      default: q.kind = QueryKind::echo; break;
    }
    sent[id * 1'000] = q;
    // All 100 are written before the first reply is read: the worker must not work in lock-step.
    REQUIRE(stream->Write(to_request(q, id * 1'000)));
  }
  REQUIRE(stream->WritesDone());
  std::set<std::uint64_t> seen;
  v1::QueryReply reply;
  while (stream->Read(&reply)) {
    INFO("request " << reply.request_id());
    REQUIRE(sent.count(reply.request_id()) == 1);
    CHECK(seen.insert(reply.request_id()).second);
    CHECK(reply.status().code() == 0);
    const QueryResult want = sent[reply.request_id()].kind == QueryKind::echo ? QueryResult{}
                                                                              : expected(sent[reply.request_id()]);
    CHECK(reply.count() == want.count);
    CHECK(reply.sum_cents() == want.sum_cents);
  }
  const grpc::Status status = stream->Finish();
  CHECK_MESSAGE(status.ok(), status.error_message());
  CHECK(seen.size() == 100);
}

TEST_CASE("worker: a stream with more in flight than its backlog limit is slowed, not cut short") {
  // 1500 queued echoes (an added delay sends them through the queue) pass the stream's backlog
  // limit of 1024: the worker pauses reading, resumes as answers are written, and loses none.
  WorkerOptions o = options_for_test();
  o.added_delay_ns = 50 * kNanosPerMicro;
  WorkerServer worker(o);
  auto stub = stub_for(worker);
  grpc::ClientContext context;
  set_deadline(context, 10'000);
  auto stream = stub->QueryStream(&context);
  constexpr std::uint64_t kRequests = 1'500;
  auto writer = std::async(std::launch::async, [&] {
    v1::QueryRequest request;
    request.set_kind(v1::QUERY_KIND_ECHO);
    for (std::uint64_t id = 1; id <= kRequests; ++id) {
      request.set_request_id(id);
      if (!stream->Write(request)) return false;
    }
    return stream->WritesDone();
  });
  std::set<std::uint64_t> seen;
  v1::QueryReply reply;
  while (stream->Read(&reply)) {
    CHECK(reply.status().code() == 0);
    seen.insert(reply.request_id());
  }
  CHECK(writer.get());
  CHECK(stream->Finish().ok());
  CHECK(seen.size() == kRequests);
}

TEST_CASE("worker: per-request errors on a stream are replies and the stream goes on") {
  WorkerServer worker(options_for_test());
  auto stub = stub_for(worker);
  grpc::ClientContext context;
  set_deadline(context);
  auto stream = stub->QueryStream(&context);
  Query bad_minutes = heavy_query(3);
  bad_minutes.minute_to = 5000;
  v1::QueryRequest bad_kind = to_request(point_query(5), 3);
  bad_kind.set_kind(static_cast<v1::QueryKind>(42));
  REQUIRE(stream->Write(to_request(heavy_query(3), 1)));
  REQUIRE(stream->Write(to_request(bad_minutes, 2)));
  REQUIRE(stream->Write(bad_kind));
  REQUIRE(stream->Write(to_request(point_query(5), 4)));

  std::map<std::uint64_t, v1::QueryReply> replies;
  v1::QueryReply reply;
  // Read all four before half-closing: the stream must still be open after the errors.
  for (int i = 0; i < 4 && stream->Read(&reply); ++i) replies[reply.request_id()] = reply;
  REQUIRE(replies.size() == 4);
  CHECK(replies[1].status().code() == 0);
  CHECK(replies[1].count() == expected(heavy_query(3)).count);
  CHECK(replies[2].status().code() == static_cast<int>(StatusCode::INVALID_ARGUMENT));
  CHECK(replies[2].status().message().find("minute_to") != std::string::npos);
  CHECK(replies[3].status().code() == static_cast<int>(StatusCode::INVALID_ARGUMENT));
  CHECK(replies[3].status().message().find("kind") != std::string::npos);
  CHECK(replies[4].status().code() == 0);
  CHECK(replies[4].sum_cents() == expected(point_query(5)).sum_cents);

  REQUIRE(stream->Write(to_request(point_query(6), 5)));
  REQUIRE(stream->Read(&reply));
  CHECK(reply.request_id() == 5);
  CHECK(reply.status().code() == 0);
  REQUIRE(stream->WritesDone());
  CHECK_FALSE(stream->Read(&reply));
  CHECK(stream->Finish().ok());
}

TEST_CASE("worker: beyond max_queue, queries get RESOURCE_EXHAUSTED") {
  WorkerOptions o = options_for_test();
  o.threads = 1;
  o.max_queue = 2;
  o.added_delay_ns = 100 * kNanosPerMilli;
  WorkerServer worker(o);
  auto stub = stub_for(worker);
  grpc::ClientContext context;
  set_deadline(context);
  auto stream = stub->QueryStream(&context);
  for (std::uint64_t id = 1; id <= 6; ++id) REQUIRE(stream->Write(to_request(point_query(9), id)));
  REQUIRE(stream->WritesDone());
  int ok = 0, rejected = 0;
  v1::QueryReply reply;
  while (stream->Read(&reply)) {
    if (reply.status().code() == 0) ++ok;
    if (reply.status().code() == static_cast<int>(StatusCode::RESOURCE_EXHAUSTED)) ++rejected;
  }
  CHECK(stream->Finish().ok());
  // One running and two queued at most; the rest refused at once.
  CHECK(ok + rejected == 6);
  CHECK(ok >= 2);
  CHECK(ok <= 3);
  CHECK(worker.stats().rejected == static_cast<std::uint64_t>(rejected));
}

TEST_CASE("worker: health says SERVING, and after drain the server is gone or NOT_SERVING") {
  WorkerServer worker(options_for_test());
  const std::string address = worker.address();
  grpc::Status status;
  CHECK(health(address, "", status) == grpc::health::v1::HealthCheckResponse::SERVING);
  CHECK(status.ok());
  CHECK(health(address, "pathbench.v1.Worker", status) == grpc::health::v1::HealthCheckResponse::SERVING);
  CHECK(status.ok());
  health(address, "no.such.Service", status);
  CHECK(status.error_code() == StatusCode::NOT_FOUND);

  worker.drain(500 * kNanosPerMilli);
  worker.drain();  // idempotent
  const auto after = health(address, "pathbench.v1.Worker", status);
  CHECK((status.error_code() == StatusCode::UNAVAILABLE ||
         (status.ok() && after == grpc::health::v1::HealthCheckResponse::NOT_SERVING)));
  auto stub = v1::Worker::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  CHECK(echo(*stub).error_code() == StatusCode::UNAVAILABLE);
}

TEST_CASE("worker: drain lets in-flight work finish within the grace, and cuts it short after") {
  WorkerOptions o = options_for_test();
  o.added_delay_ns = 100 * kNanosPerMilli;
  WorkerServer worker(o);
  auto stub = stub_for(worker);
  REQUIRE(echo(*stub).ok());  // connected

  auto in_grace = std::async(std::launch::async, [&] {
    v1::QueryReply reply;
    return call(*stub, to_request(point_query(3), 1), reply).error_code();
  });
  REQUIRE(eventually([&] { return worker.stats().received == 2; }));
  worker.drain(2 * kNanosPerSecond);
  CHECK(in_grace.get() == StatusCode::OK);

  WorkerOptions slow = options_for_test();
  slow.added_delay_ns = 30 * kNanosPerSecond;
  WorkerServer stuck(slow);
  auto stuck_stub = stub_for(stuck);
  auto cut_short = std::async(std::launch::async, [&] {
    v1::QueryReply reply;
    return call(*stuck_stub, to_request(point_query(3), 1), reply, 10'000).error_code();
  });
  REQUIRE(eventually([&] { return stuck.stats().received == 1; }));
  const auto started = std::chrono::steady_clock::now();
  stuck.drain(100 * kNanosPerMilli);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
  const StatusCode code = cut_short.get();
  CHECK((code == StatusCode::UNAVAILABLE || code == StatusCode::CANCELLED));
}

TEST_CASE("worker: a client that cancels a busy stream leaves nothing dangling") {
  WorkerOptions o = options_for_test();
  o.threads = 1;
  o.added_delay_ns = 20 * kNanosPerMilli;
  WorkerServer worker(o);
  auto stub = stub_for(worker);
  {
    grpc::ClientContext context;
    set_deadline(context);
    auto stream = stub->QueryStream(&context);
    for (std::uint64_t id = 1; id <= 10; ++id) REQUIRE(stream->Write(to_request(point_query(4), id)));
    // One reply read: the stream is live, and with one SQL thread and a 20 ms delay per query
    // the others are still queued or on the wire when the client walks away.
    v1::QueryReply reply;
    REQUIRE(stream->Read(&reply));
    context.TryCancel();
    CHECK(stream->Finish().error_code() == StatusCode::CANCELLED);
  }
  // The queued queries are answered (to nobody) and the stream ends; the worker serves on.
  // Only what reached the worker before the cancel counts: each gets exactly one answer.
  CHECK(eventually([&] {
    const auto s = worker.stats();
    return s.ok + s.failed == s.received;
  }));
  const WorkerStats stats = worker.stats();
  INFO("received " << stats.received << ", ok " << stats.ok << ", failed " << stats.failed);
  CHECK(stats.received >= 1);
  CHECK(stats.ok < 10);  // the cancel did stop work that nobody waited for
  CHECK(echo(*stub).ok());
}

TEST_CASE("worker: an oversized request gets RESOURCE_EXHAUSTED and the next one is served") {
  WorkerOptions o = options_for_test();
  o.max_message_bytes = 1024;
  WorkerServer worker(o);
  auto stub = stub_for(worker);
  v1::QueryRequest big;
  big.set_kind(v1::QUERY_KIND_ECHO);
  big.set_padding(std::string(64 * 1024, 'x'));
  v1::QueryReply reply;
  CHECK(call(*stub, big, reply).error_code() == StatusCode::RESOURCE_EXHAUSTED);
  CHECK(echo(*stub, 2).ok());
  v1::QueryRequest fits;
  fits.set_kind(v1::QUERY_KIND_ECHO);
  fits.set_padding(std::string(512, 'x'));
  CHECK(call(*stub, fits, reply).ok());
}

TEST_CASE("worker: garbage bytes on the port close that connection and the server keeps serving") {
  WorkerServer worker(options_for_test());
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_of(worker.address()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string garbage = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>(i * 131 + 7));
  CHECK(::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL) > 0);
  // The server may say something (a GOAWAY) before closing; what matters is that it closes.
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
  }
  const bool closed = n == 0 || errno == ECONNRESET;
  CHECK_MESSAGE(closed, "recv returned " << n << ", errno " << errno);
  ::close(fd);

  auto stub = stub_for(worker);
  CHECK(echo(*stub).ok());
}

TEST_CASE("worker: a missing database or a busy port fails the constructor with a reason") {
  WorkerOptions missing = options_for_test();
  missing.db_path = worker_db().parent_path() / "no-such.db";
  try {
    WorkerServer worker(missing);
    FAIL("constructed without a database file");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("no-such.db") != std::string::npos);
  }

  WorkerServer first(options_for_test());
  WorkerOptions same_port = options_for_test("worker-8");
  same_port.listen = first.address();
  try {
    WorkerServer second(same_port);
    FAIL("two workers listen on one port");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(first.address()) != std::string::npos);
  }
}

TEST_CASE("worker: SQL threads are named after the worker") {
  WorkerServer worker(options_for_test("worker-7"));
  std::set<std::string> names;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::string name = testing::read_file(task.path() / "comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    names.insert(name);
  }
  CHECK(names.count("pb-wk7-sql0") == 1);
  CHECK(names.count("pb-wk7-sql1") == 1);
}

namespace {

struct ThreadRecordingSink final : AnswerSink {
  void complete(std::uint64_t, Answer answer) override {
    code = answer.code;
    thread = std::this_thread::get_id();
    done.set_value();
  }
  bool cancelled() const noexcept override { return false; }
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::thread::id thread;
  std::promise<void> done;
};

}  // namespace

TEST_CASE("worker: with a free SQL slot and nothing queued a query runs on the accepting thread; a slow worker's go through the SQL threads") {
  WorkerOptions o = options_for_test();
  o.threads = 2;
  QueryEngine engine(o);
  {
    ThreadRecordingSink sink;
    auto done = sink.done.get_future();
    engine.accept(to_request(point_query(9), 1), now_ns(), kNoDeadline, sink);
    REQUIRE(done.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(sink.code == grpc::StatusCode::OK);
    CHECK(sink.thread == std::this_thread::get_id());
  }
  engine.set_added_delay(kNanosPerMilli);
  {
    ThreadRecordingSink sink;
    auto done = sink.done.get_future();
    engine.accept(to_request(point_query(9), 2), now_ns(), kNoDeadline, sink);
    REQUIRE(done.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    CHECK(sink.code == grpc::StatusCode::OK);
    CHECK(sink.thread != std::this_thread::get_id());
  }
  CHECK(engine.stats().ok == 2);
  engine.stop();
}
