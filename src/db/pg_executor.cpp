// The PostgreSQL QueryBackend (db/query_backend.h): one libpq connection per worker thread,
// the catalog's two statements prepared once, parameters in text form from stack buffers.
// The deadline: the reply is awaited with poll() on the connection's socket until deadline_ns;
// then the statement is cancelled (PQcancel; the server answers SQLSTATE 57014, reported as
// deadline_exceeded). A connection that broke (server stopped or restarted) fails the query in
// flight with an error and is re-opened by a later query, at most every kReconnectEveryNs, so
// a stopped server costs each query one refused connect at most, never a wait.
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "db/pg_connection.h"
#include "db/query_backend.h"

namespace pathbench {
namespace {

constexpr Nanos kReconnectEveryNs = 200 * kNanosPerMilli;
// After a cancel, how long the server gets to answer before the connection is given up.
constexpr Nanos kCancelGraceNs = 2 * kNanosPerSecond;
constexpr const char* kHeavyName = "pathbench_heavy";
constexpr const char* kPointName = "pathbench_point";

// SQLite's ?N placeholders as PostgreSQL's $N.
std::string dollar_params(const char* sql) {
  std::string out(sql);
  for (char& c : out)
    if (c == '?') c = '$';
  return out;
}

std::int64_t to_int64(const char* text) {
  std::int64_t v = 0;
  std::from_chars(text, text + std::strlen(text), v);
  return v;
}

class PgQueryBackend final : public QueryBackend {
 public:
  explicit PgQueryBackend(std::string url) : url_(std::move(url)) {
    connect();  // throws: a worker that cannot reach its database must not start
  }
  ~PgQueryBackend() override {
    if (cancel_) PQfreeCancel(cancel_);
  }
  void run(const Query& query, Nanos deadline_ns, QueryOutcome& outcome) override;

 private:
  void connect() {
    PgConnection c = PgConnection::open(url_);
    // Workers only read: a stray write would change what the benchmark measures.
    c.exec("SET default_transaction_read_only = on", "making the session read-only");
    for (auto [name, sql] : {std::pair{kHeavyName, kHeavyQuerySql}, std::pair{kPointName, kPointQuerySql}}) {
      PgResult r(PQprepare(c.get(), name, dollar_params(sql).c_str(), 0, nullptr));
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK)
        throw std::runtime_error(fmt::format("cannot query PostgreSQL at {}: {}; seed it with `pathbench seed --db URL`",
                                             c.redacted_url(), c.error_message()));
    }
    if (cancel_) PQfreeCancel(cancel_);
    cancel_ = PQgetCancel(c.get());
    conn_ = std::move(c);
  }
  bool ensure_connected(std::string& why) {
    if (conn_.healthy()) return true;
    const Nanos now = now_ns();
    if (now - last_reconnect_ns_ < kReconnectEveryNs) {
      why = "PostgreSQL connection lost (reconnecting)";
      return false;
    }
    last_reconnect_ns_ = now;
    try {
      connect();
      return true;
    } catch (const std::exception& e) {
      why = e.what();
      return false;
    }
  }
  void drop_connection() {
    conn_ = PgConnection();
    last_reconnect_ns_ = 0;
  }

  std::string url_;
  PgConnection conn_;
  PGcancel* cancel_ = nullptr;
  Nanos last_reconnect_ns_ = 0;
};

void PgQueryBackend::run(const Query& query, Nanos deadline_ns, QueryOutcome& outcome) {
  const auto fail = [&](std::string why) {
    outcome.status = QueryStatus::error;
    outcome.result = {};
    outcome.error_message = std::move(why);
  };
  std::string why;
  if (!ensure_connected(why)) return fail(std::move(why));

  char buffers[5][24];
  const char* values[5];
  int count = 0;
  const auto put = [&](std::int64_t v) {
    auto [end, ec] = std::to_chars(buffers[count], buffers[count] + sizeof buffers[count] - 1, v);
    *end = '\0';
    values[count] = buffers[count];
    ++count;
  };
  if (query.kind == QueryKind::heavy) {
    put(query.category_id);
    put(query.from_epoch_s);
    put(query.to_epoch_s);
    put(query.minute_from);
    put(query.minute_to);
  } else {
    put(query.sale_id);
  }

  PGconn* conn = conn_.get();
  const Nanos started_ns = now_ns();
  if (!PQsendQueryPrepared(conn, query.kind == QueryKind::heavy ? kHeavyName : kPointName, count, values, nullptr,
                           nullptr, 0)) {
    fail(conn_.error_message());
    if (!conn_.healthy()) drop_connection();
    return;
  }
  bool cancelled = false;
  Nanos cancelled_at_ns = 0;
  while (PQisBusy(conn)) {
    const Nanos now = now_ns();
    if (!cancelled && now > deadline_ns) {
      char error[256];
      PQcancel(cancel_, error, sizeof error);
      cancelled = true;
      cancelled_at_ns = now;
    }
    if (cancelled && now - cancelled_at_ns > kCancelGraceNs) {
      // The server does not answer even a cancel: this connection is no use any more.
      drop_connection();
      outcome.sql_ns = now_ns() - started_ns;
      return fail("PostgreSQL did not answer a cancelled query; connection dropped");
    }
    const Nanos wait_ns = cancelled ? 100 * kNanosPerMilli : std::min<Nanos>(deadline_ns - now, kNanosPerSecond);
    pollfd p{PQsocket(conn), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(wait_ns / kNanosPerMilli) + 1);
    if ((ready < 0 && errno != EINTR) || (ready > 0 && !PQconsumeInput(conn))) break;
  }
  bool got_rows = false;
  while (PGresult* r = PQgetResult(conn)) {
    const auto status = PQresultStatus(r);
    if (status == PGRES_TUPLES_OK) {
      got_rows = true;
      if (PQntuples(r) > 0) {
        if (query.kind == QueryKind::heavy) {
          outcome.result.count = to_int64(PQgetvalue(r, 0, 0));
          outcome.result.sum_cents = to_int64(PQgetvalue(r, 0, 1));
        } else {
          outcome.result.count = 1;
          outcome.result.sum_cents = to_int64(PQgetvalue(r, 0, 0));
        }
      }
    } else {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      if (state && std::strcmp(state, "57014") == 0) {  // query_canceled: our deadline
        outcome.status = QueryStatus::deadline_exceeded;
        outcome.result = {};
      } else {
        std::string message = PQresultErrorMessage(r);
        while (!message.empty() && message.back() == '\n') message.pop_back();
        fail(message.empty() ? conn_.error_message() : message);
      }
    }
    PQclear(r);
  }
  outcome.sql_ns = now_ns() - started_ns;
  if (!got_rows && outcome.status == QueryStatus::ok) fail(conn_.error_message());
  if (!conn_.healthy()) drop_connection();
}

}  // namespace

std::unique_ptr<QueryBackend> open_postgres_query_backend(const std::string& url) {
  return std::make_unique<PgQueryBackend>(url);
}

}  // namespace pathbench
