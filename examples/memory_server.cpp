// memory-server: an FTP server whose files live in RAM (coftp::memory_fs). Anyone may
// log in with any name and password and read or write; everything is gone at exit.
// Handy for tests of FTP clients.
#include <coftp/coftp.hpp>

#include <asio/signal_set.hpp>

#include <iostream>

struct memory_policies : coftp::default_policies {
  using storage = coftp::memory_fs;
  using authenticator = coftp::accept_any;  // demo only: every login succeeds
};

int main() {
  asio::io_context io;
  coftp::memory_fs files{{"/readme.txt", "Files here live in memory.\n"}};
  coftp::basic_server<memory_policies> server(io, {.port = 2121}, files);
  server.start();
  std::cout << "listening on " << server.endpoint() << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { server.stop(); });
  io.run();
}
