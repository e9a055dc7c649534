// The bare floor of the worker's heavy query: N threads, each with its own read-only SQLite
// connection, run the heavy query in a tight loop for a while — no RPC, no queue, no
// deadline checks. bench/compare_peers.py compares the worker's max rate through grpc_unary
// (and its SQL threads' CPU per query) with this.
//
// Same SQL text as db/executor.cpp's heavy query (copied: the executor keeps it private), same
// connection settings (read-only, no mutex, exclusive lock, memory-mapped), and the same
// parameters: drawn by db/catalog's QueryMix (heavy only, default range and window) from
// generators seeded as the load generator's client threads are.
//
// usage: pathbench_bare_sqlite DB THREADS SECONDS [SEED]
// prints one line: threads=N seconds=S queries=Q rate_per_s=R cpu_us_per_query=C
#include <sqlite3.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db/catalog.h"

namespace {

constexpr const char* kHeavySql =
    "SELECT COUNT(*), COALESCE(SUM(s.amount_cents), 0)"
    " FROM categories AS c"
    " JOIN products AS p ON p.category_id = c.id"
    " JOIN sales AS s ON s.product_id = p.id"
    " WHERE c.id = ?1 AND s.sale_time >= ?2 AND s.sale_time < ?3"
    " AND s.minute_of_day BETWEEN ?4 AND ?5";

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct ThreadResult {
  long long queries = 0;
  double cpu_s = 0;
  std::string error;
};

void run(const std::string& db_path, const pathbench::QueryMix& mix, std::uint64_t seed, int index,
         const std::atomic<bool>& stop, ThreadResult& out) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    out.error = db ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_exec(db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA mmap_size=17179869184", nullptr, nullptr, nullptr) !=
          SQLITE_OK ||
      sqlite3_prepare_v3(db, kHeavySql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    out.error = sqlite3_errmsg(db);
    sqlite3_close(db);
    return;
  }
  std::mt19937_64 rng(seed * 0x2545F4914F6CDD1Dull + static_cast<std::uint64_t>(index) + 1);
  long long sink = 0;
  const double cpu0 = thread_cpu_s();
  while (!stop.load(std::memory_order_relaxed)) {
    pathbench::Query q = mix.draw(rng);
    sqlite3_bind_int(stmt, 1, q.category_id);
    sqlite3_bind_int64(stmt, 2, q.from_epoch_s);
    sqlite3_bind_int64(stmt, 3, q.to_epoch_s);
    sqlite3_bind_int(stmt, 4, q.minute_from);
    sqlite3_bind_int(stmt, 5, q.minute_to);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) sink += sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
      out.error = sqlite3_errmsg(db);
      break;
    }
    ++out.queries;
  }
  out.cpu_s = thread_cpu_s() - cpu0;
  if (sink < 0) std::puts("");  // keeps the loop's reads observable
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DB THREADS SECONDS [SEED]\n", argv[0]);
    return 2;
  }
  const std::string db_path = argv[1];
  const int threads = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  const std::uint64_t seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 42;
  if (threads < 1 || seconds <= 0) {
    std::fprintf(stderr, "THREADS >= 1 and SECONDS > 0\n");
    return 2;
  }
  try {
    pathbench::QueryMixConfig config;  // heavy only, the scenario defaults
    config.echo_weight = 0;
    config.point_weight = 0;
    config.heavy_weight = 1;
    const pathbench::QueryMix mix(config, pathbench::read_dataset_shape(db_path));
    std::atomic<bool> stop{false};
    std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < threads; ++i)
      pool.emplace_back([&, i] { run(db_path, mix, seed, i, stop, results[static_cast<std::size_t>(i)]); });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : pool) t.join();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long long queries = 0;
    double cpu = 0;
    for (auto& r : results) {
      if (!r.error.empty()) {
        std::fprintf(stderr, "bare_sqlite: %s\n", r.error.c_str());
        return 1;
      }
      queries += r.queries;
      cpu += r.cpu_s;
    }
    std::printf("threads=%d seconds=%.3f queries=%lld rate_per_s=%.1f cpu_us_per_query=%.2f\n", threads, elapsed,
                queries, static_cast<double>(queries) / elapsed, queries ? cpu * 1e6 / static_cast<double>(queries) : 0.0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bare_sqlite: %s\n", e.what());
    return 1;
  }
  return 0;
}
