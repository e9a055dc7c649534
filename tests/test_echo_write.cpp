// The echo server writes what it read back with a non-blocking write_some first and only the
// rest of a short write through async_write: every byte still comes back, in order, for small
// messages back to back, after a pause, and for one likely read in parts; a closed peer still
// ends the session.
#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "roles/echo_server.h"

using namespace pathbench;
namespace asio = boost::asio;
using asio::ip::tcp;

TEST_SUITE_BEGIN("loopback");

TEST_CASE("echo server: every message comes back unchanged, back to back, after a pause, and in parts") {
  EchoServer server(EchoServerOptions{});
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  socket.set_option(tcp::no_delay(true));

  auto round_trip = [&](const std::string& message) {
    asio::write(socket, asio::buffer(message));
    std::string back(message.size(), '\0');
    asio::read(socket, asio::buffer(back));
    return back;
  };
  // Back to back.
  for (int i = 0; i < 200; ++i) {
    const std::string m = "message " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 50), 'x');
    REQUIRE(round_trip(m) == m);
  }
  // After a pause.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(round_trip("after a pause") == "after a pause");
  // Likely more than one read (within what the socket buffers hold, so writing all before
  // reading cannot stall).
  const std::string big(48 * 1024, 'b');
  CHECK(round_trip(big) == big);

  // The peer closes: the server closes its side too (read returns eof).
  socket.shutdown(tcp::socket::shutdown_send);
  char c;
  boost::system::error_code ec;
  socket.read_some(asio::buffer(&c, 1), ec);
  CHECK(ec == asio::error::eof);
}

TEST_SUITE_END();
