// The database behind a QueryExecutor (db/executor.h): SQLite (db/executor.cpp) or PostgreSQL
// (db/pg_executor.cpp). The executor validates, answers echo and refuses late queries itself;
// a backend only runs a valid point or heavy query. Same thread rules as the executor.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "db/executor.h"

namespace pathbench {

// Both backends run these statements (PostgreSQL with ?N written $N).
// Joined across the catalog as the seed system's query was (sales -> products -> categories).
// Stores and regions are left out: the query filters on neither, so joining them would only
// add two lookups per matching row without changing the answer.
// The planner walks products_by_category for the category's products, then seeks
// sales_by_product_time on (product_id, sale_time range) and reads minute_of_day and
// amount_cents from that covering index without touching the sales table.
inline constexpr const char* kHeavyQuerySql =
    "SELECT COUNT(*), COALESCE(SUM(s.amount_cents), 0)"
    " FROM categories AS c"
    " JOIN products AS p ON p.category_id = c.id"
    " JOIN sales AS s ON s.product_id = p.id"
    " WHERE c.id = ?1 AND s.sale_time >= ?2 AND s.sale_time < ?3"
    " AND s.minute_of_day BETWEEN ?4 AND ?5";
inline constexpr const char* kPointQuerySql = "SELECT amount_cents FROM sales WHERE id = ?1";

class QueryBackend {
 public:
  virtual ~QueryBackend() = default;
  // Runs a validated point or heavy query, interrupting it at `deadline_ns`; sets the outcome's
  // status (ok, deadline_exceeded, error + error_message), result and sql_ns. Never throws.
  virtual void run(const Query& query, Nanos deadline_ns, QueryOutcome& outcome) = 0;
};

// Throws std::runtime_error as QueryExecutor's constructor documents.
std::unique_ptr<QueryBackend> open_sqlite_query_backend(const std::filesystem::path& db_path);
std::unique_ptr<QueryBackend> open_postgres_query_backend(const std::string& url);

}  // namespace pathbench
