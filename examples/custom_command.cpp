// custom-command: extending the command table without touching coftp. "SITE WHO" (a SITE
// sub-command, added to the SITE table) answers with the logged-in user's name, "XLOG"
// (a command of its own, advertised in FEAT) answers with the session's transfer
// counts, and DELE is taken away: this server never deletes files.
#include <coftp/coftp.hpp>

#include <asio/signal_set.hpp>

#include <iostream>

// A SITE sub-command is a handler like any other: a verb, its guards, and run().
struct site_who {
  static constexpr std::string_view verb = "WHO";
  static constexpr coftp::needs requires_ = coftp::needs::login;
  static constexpr std::string_view syntax = "SITE WHO";

  template <class Session>
  static asio::awaitable<coftp::reply> run(Session& s, std::string_view) {
    co_return coftp::reply{200, "You are " + s.user().name};
  }
};

// A command of its own. Its `feature` line appears in FEAT; HELP lists it.
struct xlog {
  static constexpr std::string_view verb = "XLOG";
  static constexpr coftp::needs requires_ = coftp::needs::login;
  static constexpr std::string_view syntax = "XLOG";
  static constexpr std::string_view feature = "XLOG";

  template <class Session>
  static asio::awaitable<coftp::reply> run(Session& s, std::string_view) {
    const auto& st = s.stats();
    co_return coftp::reply{200, std::to_string(st.files_sent) + " files sent, " +
                                    std::to_string(st.files_received) + " received"};
  }
};

using my_site = coftp::commands::basic_site<coftp::commands::default_site_commands::with<site_who>>;

struct policies : coftp::default_policies {
  using storage = coftp::memory_fs;
  using commands = coftp::default_commands::with<my_site, xlog>::without<coftp::commands::dele>;
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
