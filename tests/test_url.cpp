#include <doctest/doctest.h>

#include "core/url.h"

using namespace pathbench;

TEST_CASE("url: the one parser of broker and database URLs") {
  auto a = parse_url("amqp://bench:Super%40Secret@127.0.0.1:5673/my%2fvhost", 5672);
  REQUIRE(a);
  CHECK(a->scheme == "amqp");
  CHECK(a->user == "bench");
  CHECK(a->password == "Super@Secret");
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 5673);
  CHECK(a->path == "my/vhost");
  CHECK(a->redacted() == "amqp://***@127.0.0.1:5673/my/vhost");
  auto d = parse_url("nats://localhost", default_port_of("nats"));
  REQUIRE(d);
  CHECK(d->port == 4222);
  CHECK(d->redacted() == "nats://localhost:4222");
  auto v6 = parse_url("tcp://[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  std::string why;
  CHECK_FALSE(parse_url("tcp://:", 0, &why));
  CHECK_FALSE(why.empty());
  CHECK_FALSE(parse_url("amqp://", 5672, &why));
  CHECK(why == "no host");
  CHECK_FALSE(parse_url("tcp://host", 0, &why));
  CHECK(why.find("no port") != std::string::npos);
  CHECK_FALSE(parse_url("tcp://host:99999"));
  CHECK_FALSE(parse_url("host:80"));
  CHECK_FALSE(parse_url("amqp://u:p@:5672/"));
  CHECK_FALSE(parse_url("amqp://u:%zz@h:1/"));
}

TEST_CASE("url: user info is redacted wherever a URL appears in text") {
  CHECK(redact_urls("rabbitmq at amqp://bench:SuperSecret42@127.0.0.1:1/: connection refused") ==
        "rabbitmq at amqp://***@127.0.0.1:1/: connection refused");
  CHECK(redact_urls("\"amqp://u:p@h:1\", then nats://a:b@c and tcp://h:1") == "\"amqp://***@h:1\", then nats://***@c and tcp://h:1");
  CHECK(redact_urls("no url here") == "no url here");
  CHECK(redact_urls("postgresql://u@db/x?sslmode=disable") == "postgresql://***@db/x?sslmode=disable");
  CHECK(redact_urls("ends with scheme://") == "ends with scheme://");
  // Passwords with characters a URL parser would stop at are redacted whole.
  CHECK(redact_urls("amqp://u:p,ss@h:5672/ x") == "amqp://***@h:5672/ x");
  CHECK(redact_urls("found \"amqp://u:pa/ss@h\"") == "found \"amqp://***@h\"");
  CHECK_FALSE(parse_url("amqp://u:p ss@h:1/"));
}
