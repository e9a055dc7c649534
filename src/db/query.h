// The query catalog's vocabulary: what a client asks a worker, and the answer.
// Plain values, no allocation: a Query is drawn per request on the hot path.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pathbench {

enum class QueryKind : std::uint8_t { echo, point, heavy };
inline constexpr std::array<QueryKind, 3> kAllQueryKinds{QueryKind::echo, QueryKind::point, QueryKind::heavy};
std::string_view to_string(QueryKind kind) noexcept;
std::optional<QueryKind> query_kind_from_string(std::string_view name) noexcept;

struct Query {
  QueryKind kind = QueryKind::echo;
  // heavy: sales with from_epoch_s <= sale_time < to_epoch_s, of products in
  // category_id, sold between minute_from and minute_to (inclusive, 0..1439) of the day.
  std::int64_t from_epoch_s = 0;
  std::int64_t to_epoch_s = 0;
  std::int32_t category_id = 0;
  std::int32_t minute_from = 0;
  std::int32_t minute_to = 0;
  // point: the sale's id.
  std::int64_t sale_id = 0;
};

struct QueryResult {
  std::int64_t count = 0;      // heavy: matching sales; point: 1 if found else 0; echo: 0
  std::int64_t sum_cents = 0;  // heavy: sum of amount_cents; point: the sale's amount_cents
};

}  // namespace pathbench
