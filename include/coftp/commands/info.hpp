// coftp/commands/info.hpp - informational commands (RFC 959 4.1.3, RFC 2389, RFC 2640):
// SYST, NOOP, FEAT, OPTS, HELP, and ABOR when no transfer runs.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>

namespace coftp::commands {

/// RFC 959: "This command is used to find out the type of operating system at the
/// server." Clients use the answer to pick their LIST parser.
struct syst {
  static constexpr std::string_view verb = "SYST";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{215, "UNIX Type: L8"};
  }
};

/// RFC 959: "This command does not affect any parameters or previously entered
/// commands. It specifies no action other than that the server send an OK reply."
struct noop {
  static constexpr std::string_view verb = "NOOP";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{200, "OK"};
  }
};

/// RFC 2389 3: "Each extension supported ... must be listed on a separate line",
/// each beginning with a space. The lines are the `feature` declarations of the
/// handlers in the table, so a removed command can never be advertised.
struct feat {
  static constexpr std::string_view verb = "FEAT";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    std::string text = "Features:";
    for (auto f : Session::commands::features()) {
      text += "\n ";
      text += f;
    }
    text += "\nEnd";
    co_return reply{211, std::move(text)};
  }
};

/// RFC 2389 4: "The OPTS command allows a user-PI to specify the desired behavior of
/// a server-FTP process when another FTP command is later issued." RFC 2640: paths
/// are always UTF-8 here, so "OPTS UTF8 ON" only confirms it.
struct opts {
  static constexpr std::string_view verb = "OPTS";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view feature = "UTF8";
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view arg) {
    auto a = coftp::detail::upper(arg);
    if (a == "UTF8 ON" || a == "UTF8" || a == "UTF-8 ON") co_return reply{200, "UTF8 mode enabled"};
    if (a == "UTF8 OFF") co_return reply{504, "UTF8 cannot be turned off"};
    co_return reply{501, "Option not understood"};
  }
};

/// RFC 959: "This command shall cause the server to send helpful information
/// regarding its implementation status over the control connection."
struct help {
  static constexpr std::string_view verb = "HELP";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    std::string text = "The following commands are recognized:";
    int col = 0;
    for (auto v : Session::commands::verbs()) {
      text += col++ % 8 == 0 ? "\n " : " ";
      text += v;
    }
    text += "\nHelp OK";
    co_return reply{214, std::move(text)};
  }
};

/// RFC 959: "This command tells the server to abort the previous FTP service command
/// and any associated transfer of data." During a transfer the session answers it
/// itself (426 then 226); this handler runs when nothing is in progress.
struct abor {
  static constexpr std::string_view verb = "ABOR";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{225, "No transfer to abort"};
  }
};

}  // namespace coftp::commands
