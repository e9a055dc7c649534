// The client side of a request path, as the load generator sees it (h2load's Session idea):
// a transport issues requests and reports each completion once; it never times anything.
// All timing, deadlines and accounting live in the load generator (measure/load_generator.h),
// so every path is measured the same way.
#pragma once
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/query.h"
#include "core/clock.h"
#include "core/outcome.h"
#include "measure/recorder.h"
#include "measure/task_audit.h"
#include "scenario/scenario.h"

namespace pathbench {

struct PathRunResult;  // measure/load_generator.h

// Implemented by the load generator's per-thread driver.
class CompletionSink {
 public:
  // Report that request (slot, request_id) finished. Call on the client thread's io_context.
  // A completion for a request that already timed out (or an unknown id) is counted as late.
  // `hops`: the servers' own timings for the per-hop breakdown, when the path carries them.
  virtual void complete(std::uint32_t slot, std::uint64_t request_id, Outcome outcome,
                        const Hops* hops = nullptr) noexcept = 0;
  // The kind of request (slot, request_id), an index into PathInstance::request_kinds(), for the
  // per-kind results. A path that declares its own kinds calls it inside issue(), before the
  // request can complete; other paths' requests count under their query's kind.
  virtual void note_kind(std::uint32_t /*slot*/, std::uint64_t /*request_id*/, std::uint8_t /*kind*/) noexcept {}
  // The intended send time (steady ns) of the request now in `slot`: valid inside issue(), for a
  // path that carries it in the message (one-way messaging times end-to-end from it). 0: unknown.
  virtual Nanos intended_ns(std::uint32_t /*slot*/) const noexcept { return 0; }

 protected:
  ~CompletionSink() = default;
};

// One per client thread; every member is called on that thread's io_context only.
class PathClient {
 public:
  virtual ~PathClient() = default;
  // Connect. Calls done("") when ready or done(reason) on failure, exactly once, and within
  // the scenario's deadline.
  virtual void start(std::function<void(std::string)> done) = 0;
  // Send one request. Must not block; the outcome comes later through CompletionSink::complete
  // (possibly from inside this call for immediate failures).
  virtual void issue(std::uint32_t slot, std::uint64_t request_id, const Query& query) = 0;
  // Close connections and cancel pending operations so the io_context runs out of work soon.
  virtual void stop() = 0;

  // A transport whose completions arrive on a queue of its own (gRPC's CompletionQueue) rather
  // than through the io_context returns true: the client thread then drives both itself —
  // the io_context's ready handlers, then poll() — instead of io_context::run(), so a reply is
  // handled on the thread that reads it, with no hand-off between threads.
  virtual bool polled() const noexcept { return false; }
  // Only for polled() transports, on the client thread. Waits until steady time `until_ns` at
  // the latest (0: do not wait) for completions, reports each through CompletionSink::complete,
  // and returns whether calls are still pending. Returns false at once, without waiting, when
  // none is (the caller then waits on its io_context instead).
  virtual bool poll(Nanos until_ns) {
    (void)until_ns;
    return false;
  }
};

// The client side of one path for one run (made by PathInfo::create, which also makes sure
// the servers it needs are up, through the run's Topology) and the factory for its clients.
class PathInstance {
 public:
  virtual ~PathInstance() = default;
  virtual std::unique_ptr<PathClient> make_client(boost::asio::io_context& io, CompletionSink& sink,
                                                  int thread_index) = 0;
  // Where the client connects, e.g. "tcp://127.0.0.1:40123" (recorded in the results).
  virtual std::string endpoint() const = 0;
  // The kinds its requests come in (at most kMaxRequestKinds), named for the results, when the
  // path's clients say each request's kind (CompletionSink::note_kind). Empty: the kinds of the
  // scenario's query mix, for a path that carries queries.
  virtual std::vector<std::string> request_kinds() const { return {}; }
  // Hooks of run_path around one run (a knee search makes one run per probe), on its calling
  // thread: the common start line (steady ns) once set; and the result once every client thread
  // has been joined (nothing in flight), before run_path returns — a path whose work ends later
  // than its requests finishes its accounting there, bounded in time: one-way messaging waits for
  // its consumers to drain the backlog; the task path audits the tasks table (result.tasks). A
  // run cut short by a signal (result.interrupted) counts what is there without waiting.
  virtual void run_started(Nanos /*start_ns*/) {}
  virtual void run_finished(PathRunResult& /*result*/) {}
};

}  // namespace pathbench
