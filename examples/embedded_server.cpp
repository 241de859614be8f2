// The embedding example of the README, compiled so that it cannot rot.
#include <coftp/coftp.hpp>
#include <asio/signal_set.hpp>

int main() {
  asio::io_context io;

  coftp::user_table users;
  users.add("alice", "secret");            // read-write, rooted at the served directory
  users.allow_anonymous();                 // "anonymous" and "ftp": read-only

  coftp::server server(io, {.host = "127.0.0.1", .port = 2121}, coftp::local_fs("/srv/ftp"), users);
  server.start();

  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](auto, int) { server.stop(); });
  io.run();                                // add threads: run io on several, sessions use strands
}
