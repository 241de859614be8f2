// coftp/commands/listing.hpp - directory listings (RFC 959 4.1.3): LIST and NLST.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/listing.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace coftp::commands {

namespace detail_listing {

enum class style { long_form, names };

template <class Session>
asio::awaitable<reply> run_listing(Session& s, std::string_view arg, style how) {
  auto p = s.resolve(coftp::detail::listing_path(arg));
  if (!p) co_return coftp::detail::bad_path();
  if (!s.data_ready()) co_return reply{425, "Use PASV or EPSV first"};
  auto [ec, info] = co_await s.storage().stat(p->storage_path);
  if (ec)
    co_return reply_for(ec, {{storage_errc::not_found, "Directory not found"},
                             {storage_errc::not_a_directory, "Directory not found"}});
  std::vector<file_info> entries;
  if (info.is_directory()) {
    auto [lec, list] = co_await s.storage().list(p->storage_path);
    if (lec)
      co_return reply_for(lec, {{storage_errc::not_found, "Directory not found"},
                                {storage_errc::not_a_directory, "Directory not found"}});
    entries = std::move(list);
    std::sort(entries.begin(), entries.end(), [](const file_info& a, const file_info& b) { return a.name < b.name; });
  } else {
    // RFC 959: "If the pathname specifies a file then the server should send current
    // information on the file."
    info.name = std::string(file_name(p->virtual_path));
    entries.push_back(std::move(info));
  }
  std::string text;
  auto now = std::chrono::system_clock::now();
  for (const auto& e : entries) {
    if (how == style::long_form) {
      format_list_line(text, e, now);
    } else {
      text += e.name;
      text += "\r\n";
    }
  }
  auto r = co_await s.send_text(std::move(text), reply{150, "Opening data connection for directory listing"},
                                p->virtual_path);
  if (!r.ok()) co_return r.failure;
  co_return reply{226, "Directory listing sent"};
}

}  // namespace detail_listing

/// RFC 959: "This command causes a list to be sent from the server to the passive
/// DTP." The form is `ls -l`'s; words starting with '-' are ls options, not paths.
struct list {
  static constexpr std::string_view verb = "LIST";
  static constexpr needs requires_ = needs::login | needs::read;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    return detail_listing::run_listing(s, arg, detail_listing::style::long_form);
  }
};

/// RFC 959: "This command causes a directory listing to be sent from server to user
/// site ... The server will return a stream of names of files and no other
/// information."
struct nlst {
  static constexpr std::string_view verb = "NLST";
  static constexpr needs requires_ = needs::login | needs::read;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    return detail_listing::run_listing(s, arg, detail_listing::style::names);
  }
};

}  // namespace coftp::commands
