// The test runner: doctest's, except that it can also be a private broker's supervisor
// (mq/supervisor.h), as every program that starts brokers must.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "mq/supervisor.h"

int main(int argc, char** argv) {
  if (int status = pathbench::mq::supervise_main(argc, argv); status >= 0) return status;
  return doctest::Context(argc, argv).run();
}
