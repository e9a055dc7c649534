#include <doctest/doctest.h>

#include "core/host_port.h"

using namespace pathbench;

TEST_CASE("host:port: the one parser") {
  auto a = parse_host_port("127.0.0.1:50051");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 50051);
  CHECK(a->to_string() == "127.0.0.1:50051");
  auto v6 = parse_host_port("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->to_string() == "[::1]:80");
  CHECK(parse_host_port("localhost:65535"));
  CHECK_FALSE(parse_host_port("localhost:65536"));
  CHECK_FALSE(parse_host_port("localhost:0"));
  CHECK(parse_host_port("localhost:0", true));
  CHECK_FALSE(parse_host_port(":80"));
  CHECK_FALSE(parse_host_port("[]:80"));
  CHECK_FALSE(parse_host_port("host:"));
  CHECK_FALSE(parse_host_port("host"));
  CHECK_FALSE(parse_host_port("host:8o"));
  CHECK_FALSE(parse_host_port("host:-1"));
  CHECK_FALSE(parse_host_port(""));
}
