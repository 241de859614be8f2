// coftp/commands/transfer.hpp - file transfer (RFC 959 4.1.3): RETR and STOR.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/storage.hpp>

namespace coftp::commands {

/// RFC 959: "This command causes the server-DTP to transfer a copy of the file,
/// specified in the pathname, to the server- or user-DTP at the other end of the data
/// connection. The status and contents of the file at the server site shall be
/// unaffected."
struct retr {
  static constexpr std::string_view verb = "RETR";
  static constexpr needs requires_ = needs::login | needs::argument | needs::read;
  static constexpr std::string_view usage = "Missing filename";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto p = s.resolve(arg);
    if (!p) co_return coftp::detail::bad_path();
    if (!s.data_ready()) co_return reply{425, "Use PASV or EPSV first"};
    auto [ec, reader] = co_await s.storage().open_read(p->storage_path, 0);
    if (ec) co_return reply_for(ec);
    reply opening{150, "Opening data connection (" + std::to_string(reader.size()) + " bytes)"};
    auto r = co_await s.send(reader, std::move(opening), p->virtual_path);
    if (!r.ok()) co_return r.failure;
    co_return reply{226, "Transfer complete"};
  }
};

/// RFC 959: "This command causes the server-DTP to accept the data transferred via
/// the data connection and to store the data as a file at the server site. If the file
/// specified in the pathname exists at the server site, then its contents shall be
/// replaced by the data being transferred." The old content stays until the new one
/// is complete: a cut upload never truncates a file.
struct stor {
  static constexpr std::string_view verb = "STOR";
  static constexpr needs requires_ = needs::login | needs::argument | needs::write;
  static constexpr std::string_view usage = "Missing filename";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    auto p = s.resolve(arg);
    if (!p) co_return coftp::detail::bad_path();
    if (!s.data_ready()) co_return reply{425, "Use PASV or EPSV first"};
    auto [ec, writer] = co_await s.storage().open_write(p->storage_path, write_mode::replace);
    if (ec) co_return reply_for(ec, {{storage_errc::not_found, "Directory not found"}});
    auto r = co_await s.receive(writer, reply{150, "Ready to receive"}, p->virtual_path);
    if (!r.ok()) co_return r.failure;
    co_return reply{226, "Transfer complete (" + std::to_string(r.bytes) + " bytes received)"};
  }
};

}  // namespace coftp::commands
