// custom-command: adding a verb to the command table without touching coftp. Here a
// SITE command answers "SITE WHO" with the logged-in user's name, and DELE is taken
// away: this server never deletes files.
#include <coftp/coftp.hpp>

#include <asio/signal_set.hpp>

#include <iostream>

// RFC 959: "This command is used by the server to provide services specific to his
// system that are essential to file transfer but not sufficiently universal to be
// included as commands in the protocol."
struct site {
  static constexpr std::string_view verb = "SITE";
  static constexpr coftp::needs requires_ = coftp::needs::login | coftp::needs::argument;
  static constexpr std::string_view usage = "Missing SITE command";

  template <class Session>
  static asio::awaitable<coftp::reply> run(Session& s, std::string_view arg) {
    if (arg == "WHO" || arg == "who") co_return coftp::reply{200, "You are " + s.user().name};
    co_return coftp::reply{504, "Unknown SITE command"};
  }
};

struct policies : coftp::default_policies {
  using storage = coftp::memory_fs;
  using commands = coftp::default_commands::with<site>::without<coftp::commands::dele>;
};

int main() {
  asio::io_context io;
  coftp::user_table users;
  users.add("demo", "demo");
  coftp::basic_server<policies> server(io, {.port = 2121}, coftp::memory_fs{}, users);
  server.start();
  std::cout << "listening on " << server.endpoint() << " (user demo, password demo)" << std::endl;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { server.stop(); });
  io.run();
}
