// coftp/commands/info.hpp - informational commands (RFC 959 4.1.3, RFC 2389, RFC 2640):
// SYST, NOOP, FEAT, OPTS, HELP, SITE (with its sub-commands HELP and CHMOD), and ABOR.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/listing.hpp>
#include <coftp/storage.hpp>

namespace coftp::commands {

/// RFC 959: "This command is used to find out the type of operating system at the
/// server." Clients use the answer to pick their LIST parser.
struct syst {
  static constexpr std::string_view verb = "SYST";
  static constexpr std::string_view syntax = "SYST";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{reply_code::system_type, "UNIX Type: L8"};
  }
};

/// RFC 959: "This command does not affect any parameters or previously entered
/// commands. It specifies no action other than that the server send an OK reply."
struct noop {
  static constexpr std::string_view verb = "NOOP";
  static constexpr std::string_view syntax = "NOOP";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session&, std::string_view) {
    co_return reply{reply_code::ok, "OK"};
  }
};

/// RFC 2389 3: "Each extension supported ... must be listed on a separate line",
/// each beginning with a space. The lines are the `feature` declarations of the
/// handlers in the table, so a removed command can never be advertised.
struct feat {
  static constexpr std::string_view verb = "FEAT";
  static constexpr std::string_view syntax = "FEAT";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    std::string text = "Features:";
    for (auto f : Session::commands::features(s)) {
      text += "\n ";
      text += f;
    }
    text += "\nEnd";
    co_return reply{reply_code::system_status, std::move(text)};
  }
};

/// RFC 2389 4: "The OPTS command allows a user-PI to specify the desired behavior of
/// a server-FTP process when another FTP command is later issued." RFC 2640: paths
/// are always UTF-8 here, so "OPTS UTF8 ON" only confirms it. RFC 3659 7.9: "OPTS
/// MLST fact;fact;" selects the facts of MLSD and MLST.
struct opts {
  static constexpr std::string_view verb = "OPTS";
  static constexpr std::string_view syntax = "OPTS <sp> UTF8 ON | MLST facts";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view feature = "UTF8";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto a = coftp::detail::upper(arg);
    if (a == "MLST" || a.starts_with("MLST ")) {
      if (!Session::commands::template contains<Session>("MLST"))
        co_return reply{reply_code::bad_arguments, "MLST is not offered"};
      auto facts = parse_mlst_facts(a.size() > 5 ? std::string_view(arg).substr(5) : std::string_view());
      s.set_mlst_facts(facts);
      // RFC 3659 7.9: the reply lists the facts now selected.
      co_return reply{reply_code::ok, "MLST OPTS " + mlst_fact_names(facts)};
    }
    if (a == "UTF8 ON" || a == "UTF8" || a == "UTF-8 ON") co_return reply{reply_code::ok, "UTF8 mode enabled"};
    if (a == "UTF8 OFF") co_return reply{reply_code::not_implemented_for_parameter, "UTF8 cannot be turned off"};
    co_return reply{reply_code::bad_arguments, "Option not understood"};
  }
};

namespace detail_info {
inline std::string verb_list(std::string heading, const std::vector<std::string_view>& verbs) {
  int col = 0;
  for (auto v : verbs) {
    heading += col++ % 8 == 0 ? "\n " : " ";
    heading += v;
  }
  heading += "\nHelp OK";
  return heading;
}
}  // namespace detail_info

/// RFC 959: "This command shall cause the server to send helpful information
/// regarding its implementation status over the control connection ... The command
/// may take an argument (e.g., any command name) and return more specific
/// information as a response." The list is the command table's, nothing else.
struct help {
  static constexpr std::string_view verb = "HELP";
  static constexpr std::string_view syntax = "HELP [<sp> command]";
  static constexpr needs requires_ = needs::none;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    using table = typename Session::commands;
    if (arg.empty())
      co_return reply{reply_code::help,
                      detail_info::verb_list("The following commands are recognized:", table::verbs(s))};
    auto v = coftp::detail::upper(arg);
    auto sp = v.find(' ');
    std::string_view first = std::string_view(v).substr(0, sp);
    auto syntax = table::template syntax<Session>(first);
    if (!syntax) co_return reply{reply_code::not_implemented, "Unknown command " + std::string(first)};
    co_return reply{reply_code::help, "Syntax: " + std::string(*syntax)};
  }
};

/// SITE CHMOD (a de-facto standard of Unix servers): "SITE CHMOD 644 file" sets the
/// permission bits, given in octal. Only offered when the backend has modes.
struct site_chmod {
  static constexpr std::string_view verb = "CHMOD";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr permissions rights = permissions::site;
  static constexpr std::string_view usage = "SITE CHMOD requires an octal mode and a path";
  static constexpr std::string_view syntax = "SITE CHMOD <sp> octal-mode <sp> pathname";
  template <class Session>
  static constexpr bool enabled = can_set_mode<typename Session::storage_type>;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto sp = arg.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 4 || sp + 1 == arg.size())
      co_return reply{reply_code::bad_arguments, std::string(usage)};
    unsigned mode = 0;
    for (char c : arg.substr(0, sp)) {
      if (c < '0' || c > '7')
        co_return reply{reply_code::bad_arguments, "SITE CHMOD: the mode must be octal (e.g. 644)"};
      mode = mode * 8 + unsigned(c - '0');
    }
    // An FTP user must never be able to make an uploaded program set-user-ID.
    if (mode & 06000)
      co_return reply{reply_code::file_unavailable, "SITE CHMOD: set-user-ID and set-group-ID bits are not allowed"};
    auto p = s.resolve(arg.substr(sp + 1));
    if (!p) co_return coftp::detail::bad_path();
    auto ec = co_await s.storage().set_mode(p->storage_path, mode);
    if (ec) co_return reply_for(ec);
    co_return reply{reply_code::ok, "SITE CHMOD command successful"};
  }
};

/// The SITE sub-commands a default server offers.
using default_site_commands = command_table<site_chmod>;

/// RFC 959: "This command is used by the server to provide services specific to his
/// system that are essential to file transfer but not sufficiently universal to be
/// included as commands in the protocol." Dispatches "SITE VERB args" to the handler
/// of VERB in `SiteCommands`, a command_table like the main one (same handler concept,
/// same guards); "SITE HELP" lists them. Add one with
/// `commands::basic_site<commands::default_site_commands::with<my_sub>>`.
template <class SiteCommands>
struct basic_site {
  using sub_commands = SiteCommands;
  static constexpr std::string_view verb = "SITE";
  static constexpr needs requires_ = needs::argument;
  static constexpr std::string_view usage = "Missing SITE command, try SITE HELP";
  static constexpr std::string_view syntax = "SITE <sp> command [<sp> arguments]";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto sp = arg.find(' ');
    command sub{coftp::detail::upper(arg.substr(0, sp)),
                sp == std::string_view::npos ? std::string() : std::string(arg.substr(sp + 1))};
    while (!sub.argument.empty() && sub.argument.front() == ' ') sub.argument.erase(0, 1);
    if (sub.verb == "HELP") {
      if (!sub.argument.empty()) {
        auto syntax = SiteCommands::template syntax<Session>(coftp::detail::upper(sub.argument));
        if (!syntax) co_return reply{reply_code::not_implemented, "Unknown SITE command " + sub.argument};
        co_return reply{reply_code::help, "Syntax: " + std::string(*syntax)};
      }
      auto verbs = SiteCommands::template verbs<Session>();
      verbs.push_back("HELP");
      co_return reply{reply_code::help, detail_info::verb_list("The following SITE commands are recognized:", verbs)};
    }
    if (!SiteCommands::template contains<Session>(sub.verb))
      co_return reply{reply_code::not_implemented, "Unknown SITE command " + sub.verb};
    auto r = co_await SiteCommands::dispatch(s, sub);
    co_return r;
  }
};

/// SITE with the default sub-commands.
using site = basic_site<default_site_commands>;

/// RFC 959: "This command tells the server to abort the previous FTP service command
/// and any associated transfer of data." During a transfer it cuts the transfer, whose
/// command answers 426, and then this handler answers 226 (RFC 959 4.1.3); with nothing
/// in progress, 225.
struct abor {
  static constexpr std::string_view verb = "ABOR";
  static constexpr std::string_view syntax = "ABOR";
  static constexpr needs requires_ = needs::none;
  static constexpr while_transferring during_transfer = while_transferring::cut;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    if (s.take_transfer_cut()) co_return reply{reply_code::transfer_complete, "Abort successful"};
    co_return reply{reply_code::no_transfer, "No transfer to abort"};
  }
};

}  // namespace coftp::commands
