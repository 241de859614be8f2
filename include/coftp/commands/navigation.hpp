// coftp/commands/navigation.hpp - the working directory (RFC 959 4.1.1, 4.1.3):
// CWD, CDUP, PWD and their RFC 775 X-aliases.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

namespace coftp::commands {

namespace detail_nav {
template <class Session>
asio::awaitable<reply> change_directory(Session& s, resolved_path p, reply success, std::string_view missing) {
  // Entering, not only a directory: one the server may not search is refused here, not
  // at the first LIST or RETR (the backend's enter_directory, else stat).
  auto ec = co_await probe_directory(s.storage(), p.storage_path);
  if (ec)
    co_return reply_for(ec, {{storage_errc::not_found, missing},
                             {storage_errc::not_a_directory, missing},
                             {storage_errc::permission_denied, "Access denied"}});
  s.set_cwd(std::move(p.virtual_path));
  co_return success;
}
}  // namespace detail_nav

/// RFC 959: "This command allows the user to work with a different directory."
struct cwd {
  static constexpr std::string_view verb = "CWD";
  static constexpr std::string_view syntax = "CWD <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr std::string_view usage = "Missing directory name";
  static constexpr std::string_view feature = "TVFS";  // RFC 3659 6: Unix-style virtual paths
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    return detail_nav::change_directory(s, std::move(p), {reply_code::file_action_ok, "Directory changed successfully"},
                                        "Directory not found");
  }
};

/// RFC 959: "This command is a special case of CWD ... to change to the parent directory."
struct cdup {
  static constexpr std::string_view verb = "CDUP";
  static constexpr std::string_view syntax = "CDUP";
  static constexpr needs requires_ = needs::login;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    if (s.cwd() == "/") co_return reply{reply_code::file_unavailable, "Cannot go up"};
    auto parent = s.resolve("..");  // ".." always resolves (to "/" at the top)
    auto r = co_await detail_nav::change_directory(s, std::move(*parent),
                                                   {reply_code::ok, "Directory changed to parent"}, "Cannot go up");
    co_return r;
  }
};

/// RFC 959: "This command causes the name of the current working directory to be
/// returned in the reply."
struct pwd {
  static constexpr std::string_view verb = "PWD";
  static constexpr std::string_view syntax = "PWD";
  static constexpr needs requires_ = needs::login;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view) {
    co_return reply{reply_code::path_created, quote_path(s.cwd()) + " is the current directory"};
  }
};

/// RFC 1123 4.1.3.1: the X-aliases of RFC 775 must be accepted.
struct xcwd : cwd {
  static constexpr std::string_view verb = "XCWD";
};
struct xcup : cdup {
  static constexpr std::string_view verb = "XCUP";
};
struct xpwd : pwd {
  static constexpr std::string_view verb = "XPWD";
};

}  // namespace coftp::commands
