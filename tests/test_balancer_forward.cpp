// roles/forward_table.h: the one forwarding table, deadline sweep and retry-once policy that
// every balancer front (gRPC unary, gRPC stream, WebSocket) uses.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pathbench.pb.h"
#include "roles/forward_table.h"

using namespace pathbench;

namespace {

struct Entry : Forwarded<std::string> {
  int link = 0;
};

Entry entry(std::string client, std::uint64_t id, Nanos deadline_ns, int link) {
  Entry e;
  e.client = std::move(client);
  e.client_request_id = id;
  e.received_ns = 0;
  e.deadline_ns = deadline_ns;
  e.backend = link;
  e.link = link;
  return e;
}

}  // namespace

TEST_CASE("forward table: ids are unique, an answer takes its entry once, the sweep takes what is due") {
  ForwardTable<Entry> table;
  const auto a = table.add(entry("a", 7, 100, 1));
  const auto b = table.add(entry("b", 8, 200, 2));
  const auto c = table.add(entry("c", 9, 300, 1));
  CHECK(a != b);
  CHECK(b != c);
  CHECK(table.size() == 3);

  auto taken = table.take(b);
  REQUIRE(taken);
  CHECK(taken->client == "b");
  CHECK(taken->client_request_id == 8);
  CHECK_FALSE(table.take(b));  // answered once only

  std::vector<Entry> out;
  table.take_expired(99, out);
  CHECK(out.empty());
  table.take_expired(100, out);  // a deadline at `now` has passed
  REQUIRE(out.size() == 1);
  CHECK(out[0].client == "a");
  CHECK_FALSE(table.take(a));  // expired: a late answer finds nothing

  out.clear();
  const auto d = table.add(entry("d", 10, 400, 2));
  table.take_if([](const Entry& e) { return e.link == 2; }, out);  // link 2 broke
  REQUIRE(out.size() == 1);
  CHECK(out[0].client == "d");
  CHECK_FALSE(table.erase(d));
  CHECK(table.erase(c));
  CHECK(table.size() == 0);
}

TEST_CASE("forward table: retry once, and only while the deadline leaves room") {
  CHECK(may_forward_again(1, 10, 20));
  CHECK_FALSE(may_forward_again(2, 10, 20));  // the retry was the last attempt
  CHECK_FALSE(may_forward_again(1, 20, 20));  // no time left
}

TEST_CASE("forward table: the balancer's own reply carries the client's id and the status") {
  const v1::QueryReply reply = forward_error_reply(42, 14, "balancer: no healthy worker");
  CHECK(reply.request_id() == 42);
  CHECK(reply.status().code() == 14);
  CHECK(reply.status().message() == "balancer: no healthy worker");
  CHECK(reply.worker_id().empty());
}
