// extended-server: the README's three extension points served together (examples/
// extending.hpp): uploads of at most 1 MiB, a team sharing one password, and XCRC.
#include "extending.hpp"

#include <asio/signal_set.hpp>

#include <iostream>

int main() {
  asio::io_context io;
  coftp::memory_fs files{{"/home/ann/welcome.txt", "hello ann\n"}, {"/home/bob/welcome.txt", "hello bob\n"}};
  example::size_limited<coftp::memory_fs> storage(files, 1 << 20);
  example::team_auth team({"ann", "bob"}, "team-secret");
  coftp::basic_server<example::policies> server(io, {.host = "127.0.0.1", .port = 2121}, std::move(storage), team);
  server.start();
  std::cout << "listening on " << server.endpoint() << " (users ann and bob, password team-secret)" << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { server.stop(); });
  io.run();
}
