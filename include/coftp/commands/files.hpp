// coftp/commands/files.hpp - file and directory management (RFC 959 4.1.3, RFC 3659 3-4):
// DELE, MKD, RMD, RNFR, RNTO, SIZE, MDTM, MFMT and the X-aliases of MKD and RMD.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/listing.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

namespace coftp::commands {

/// RFC 959: "This command causes the file specified in the pathname to be deleted at
/// the server site."
struct dele {
  static constexpr std::string_view verb = "DELE";
  static constexpr std::string_view syntax = "DELE <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr permissions rights = permissions::remove;
  static constexpr std::string_view usage = "Missing filename";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto ec = co_await s.storage().remove_file(p.storage_path);
    if (ec) co_return reply_for(ec, {{storage_errc::is_a_directory, "Is a directory, use RMD"}});
    co_return reply{reply_code::file_action_ok, "File deleted"};
  }
};

/// RFC 959: "This command causes the directory specified in the pathname to be
/// created." The 257 reply quotes the new directory's path (RFC 959 appendix II).
struct mkd {
  static constexpr std::string_view verb = "MKD";
  static constexpr std::string_view syntax = "MKD <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr permissions rights = permissions::make_dir;
  static constexpr std::string_view usage = "Missing directory name";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto ec = co_await s.storage().make_directory(p.storage_path);
    if (ec)
      co_return reply_for(ec, {{storage_errc::already_exists, "Directory already exists"},
                               {storage_errc::not_found, "Parent directory not found"}});
    co_return reply{reply_code::path_created, quote_path(p.virtual_path) + " directory created"};
  }
};

/// RFC 959: "This command causes the directory specified in the pathname to be
/// removed."
struct rmd {
  static constexpr std::string_view verb = "RMD";
  static constexpr std::string_view syntax = "RMD <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr permissions rights = permissions::remove_dir;
  static constexpr std::string_view usage = "Missing directory name";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    if (p.virtual_path == "/") co_return coftp::detail::permission_denied();
    auto ec = co_await s.storage().remove_directory(p.storage_path);
    if (ec) co_return reply_for(ec, {{storage_errc::not_found, "Directory not found"}});
    co_return reply{reply_code::file_action_ok, "Directory removed"};
  }
};

struct xmkd : mkd {
  static constexpr std::string_view verb = "XMKD";
};
struct xrmd : rmd {
  static constexpr std::string_view verb = "XRMD";
};

/// RFC 959: "This command specifies the old pathname of the file which is to be
/// renamed. This command must be immediately followed by a 'rename to' command."
struct rnfr {
  static constexpr std::string_view verb = "RNFR";
  static constexpr std::string_view syntax = "RNFR <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr permissions rights = permissions::rename;
  static constexpr std::string_view usage = "Missing filename";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    if (p.virtual_path == "/") co_return coftp::detail::permission_denied();
    auto [ec, info] = co_await s.storage().stat(p.storage_path);
    if (ec) co_return reply_for(ec);
    s.rename_from() = std::move(p);
    co_return reply{reply_code::pending, "Ready for RNTO"};
  }
};

/// RFC 959: "This command specifies the new pathname of the file specified in the
/// immediately preceding 'rename from' command."
struct rnto {
  static constexpr std::string_view verb = "RNTO";
  static constexpr std::string_view follows = "RNFR";  // RFC 959: "immediately followed by"
  static constexpr std::string_view syntax = "RNTO <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr permissions rights = permissions::rename;
  static constexpr std::string_view usage = "Missing filename";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (!s.rename_from()) co_return reply{reply_code::bad_sequence, "RNFR required first"};
    auto from = std::move(*s.rename_from());
    s.rename_from().reset();
    auto to = s.resolve(arg);
    if (!to) co_return coftp::detail::bad_path();
    auto ec = co_await s.storage().rename(from.storage_path, to->storage_path);
    if (ec)
      co_return reply_for(ec, {{storage_errc::not_found, "Source file not found"},
                               {storage_errc::already_exists, "Destination already exists"}});
    co_return reply{reply_code::file_action_ok, "Rename successful"};
  }
};

/// RFC 3659 4: "The SIZE command is used to obtain the transfer size of a file."
struct size {
  static constexpr std::string_view verb = "SIZE";
  static constexpr std::string_view syntax = "SIZE <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr permissions rights = permissions::retrieve;
  static constexpr std::string_view usage = "Missing filename";
  static constexpr std::string_view feature = "SIZE";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto [ec, info] = co_await s.storage().stat(p.storage_path);
    if (ec) co_return reply_for(ec);
    if (info.is_directory()) co_return reply{reply_code::file_unavailable, "Is a directory"};
    // A symlink the backend could not resolve (dangling, or leading out of the root)
    // has nothing RETR could send; its own size would tell the length of a host path.
    if (!info.is_regular()) co_return reply{reply_code::file_unavailable, "File not found"};
    co_return reply{reply_code::file_status, std::to_string(info.size)};
  }
};

/// RFC 3659 3: "The MDTM command can be used to determine when a file in the server
/// NVFS was last modified." Always UTC.
struct mdtm {
  static constexpr std::string_view verb = "MDTM";
  static constexpr std::string_view syntax = "MDTM <sp> pathname";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path;
  static constexpr permissions rights = permissions::retrieve;
  static constexpr std::string_view usage = "Missing filename";
  static constexpr std::string_view feature = "MDTM";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto [ec, info] = co_await s.storage().stat(p.storage_path);
    if (ec) co_return reply_for(ec);
    co_return reply{reply_code::file_status, format_timestamp(info.mtime)};
  }
};

/// draft-somers-ftp-mfxx 3: "The MFMT command is used to modify a file's last
/// modification time", given as "YYYYMMDDHHMMSS[.sss]" in UTC; the reply repeats it:
/// "213 Modify=YYYYMMDDHHMMSS[.sss]; path", with as many fraction digits as were sent.
/// The fraction is stored where the backend keeps one (local_fs to the nanosecond with
/// utimensat, memory_fs as given); MDTM and MLSx show whole seconds (format_timestamp).
/// Only offered when the backend can set times.
struct mfmt {
  static constexpr std::string_view verb = "MFMT";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr permissions rights = permissions::store;
  static constexpr std::string_view usage = "MFMT requires YYYYMMDDHHMMSS and a path";
  static constexpr std::string_view syntax = "MFMT <sp> YYYYMMDDHHMMSS <sp> pathname";
  static constexpr std::string_view feature = "MFMT";
  template <class Session>
  static constexpr bool enabled = can_set_modified<typename Session::storage_type>;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto sp = arg.find(' ');
    if (sp == std::string_view::npos || sp + 1 == arg.size())
      co_return reply{reply_code::bad_arguments, std::string(usage)};
    auto time_arg = arg.substr(0, sp);
    auto when = parse_timestamp(time_arg);
    if (!when) co_return reply{reply_code::bad_arguments, "Invalid time, expected YYYYMMDDHHMMSS (UTC)"};
    auto p = s.resolve(arg.substr(sp + 1));
    if (!p) co_return coftp::detail::bad_path();
    auto [sec, info] = co_await s.storage().stat(p->storage_path);
    if (sec) co_return reply_for(sec);
    if (!info.is_regular()) co_return reply{reply_code::file_unavailable, "Not a plain file"};
    auto ec = co_await s.storage().set_modified(p->storage_path, *when);
    if (ec) co_return reply_for(ec);
    auto dot = time_arg.find('.');
    int digits = dot == std::string_view::npos ? 0 : static_cast<int>(time_arg.size() - dot - 1);
    co_return reply{reply_code::file_status, "Modify=" + format_timestamp(*when, digits) + "; " + p->virtual_path};
  }
};

}  // namespace coftp::commands
