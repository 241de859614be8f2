// coftp/commands/transfer.hpp - file transfer (RFC 959 4.1.3, RFC 3659 5, RFC 1123
// 4.1.2.9): RETR, STOR, APPE, STOU and REST.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

#include <charconv>
#include <cstdio>
#include <random>

namespace coftp::commands {

namespace detail_transfer {

// The offset a REST left for this transfer, or the reply refusing it.
template <class Session>
std::optional<reply> refuse_restart(Session& s, std::uint64_t offset) {
  // Under TYPE A a byte offset of the file is not an offset of the converted stream:
  // resuming there would silently corrupt the file (pure-ftpd refuses it too).
  if (offset != 0 && s.ascii())
    return reply{reply_code::not_implemented_for_parameter, "REST is only supported in TYPE I (binary)"};
  return std::nullopt;
}

// Receives into a writer opened on `p` and gives the final reply.
template <class Session, class Writer>
asio::awaitable<reply> receive(Session& s, Writer& writer, reply opening, const resolved_path& p) {
  auto r = co_await s.receive(writer, std::move(opening), p.virtual_path);
  if (!r.ok()) co_return reply_for(r);
  co_return reply{reply_code::transfer_complete, "Transfer complete (" + std::to_string(r.bytes) + " bytes received)"};
}

}  // namespace detail_transfer

/// RFC 959: "This command causes the server-DTP to transfer a copy of the file,
/// specified in the pathname, to the server- or user-DTP at the other end of the data
/// connection. The status and contents of the file at the server site shall be
/// unaffected." After REST N the transfer starts at byte N (RFC 3659 5.3).
struct retr {
  static constexpr std::string_view verb = "RETR";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path | needs::data_connection;
  static constexpr permissions rights = permissions::retrieve;
  static constexpr std::string_view usage = "Missing filename";
  static constexpr std::string_view syntax = "RETR <sp> pathname";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto offset = s.take_restart();
    if (auto refused = detail_transfer::refuse_restart(s, offset)) co_return *refused;
    auto [ec, reader] = co_await s.storage().open_read(p.storage_path, offset);
    if (ec) co_return reply_for(ec);
    // RFC 3659 5.5: a marker beyond the end of the file is "554 ... invalid REST parameter".
    if (offset > reader.size()) co_return reply_for(make_error_code(storage_errc::invalid_offset));
    // "(N bytes)" is what clients parse for the size to expect: the bytes still to come.
    std::string text = "Opening data connection (" + std::to_string(reader.size() - offset) + " bytes)";
    if (offset != 0) text = "Restarting at " + std::to_string(offset) + ". " + text;
    reply opening{reply_code::opening_data_connection, std::move(text)};
    auto r = co_await s.send(reader, std::move(opening), p.virtual_path);
    if (!r.ok()) co_return reply_for(r);
    co_return reply{reply_code::transfer_complete, "Transfer complete"};
  }
};

/// RFC 959: "This command causes the server-DTP to accept the data transferred via
/// the data connection and to store the data as a file at the server site. If the file
/// specified in the pathname exists at the server site, then its contents shall be
/// replaced by the data being transferred." The old content stays until the new one
/// is complete: a cut upload never truncates a file. After REST N the bytes before N
/// are kept and the data is written from N on (RFC 3659 5.3).
struct stor {
  static constexpr std::string_view verb = "STOR";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path | needs::data_connection;
  static constexpr permissions rights = permissions::store;
  static constexpr std::string_view usage = "Missing filename";
  static constexpr std::string_view syntax = "STOR <sp> pathname";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto offset = s.take_restart();
    if (auto refused = detail_transfer::refuse_restart(s, offset)) co_return *refused;
    auto [ec, writer] = co_await s.storage().open_write(p.storage_path, write_mode::replace, offset);
    if (ec) co_return reply_for(ec, {{storage_errc::not_found, "Directory not found"}});
    auto r =
        co_await detail_transfer::receive(s, writer, reply{reply_code::opening_data_connection, "Ready to receive"}, p);
    co_return r;
  }
};

/// RFC 959: "This command causes the server-DTP to accept the data transferred via
/// the data connection and to store the data in a file at the server site. If the file
/// specified in the pathname exists at the server site, then the data shall be
/// appended to that file; otherwise the file specified in the pathname shall be
/// created at the server site."
struct appe {
  static constexpr std::string_view verb = "APPE";
  static constexpr needs requires_ = needs::login | needs::argument | needs::path | needs::data_connection;
  static constexpr permissions rights = permissions::store;
  static constexpr std::string_view usage = "Missing filename";
  static constexpr std::string_view syntax = "APPE <sp> pathname";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    s.take_restart();  // appending always starts at the end
    auto [ec, writer] = co_await s.storage().open_write(p.storage_path, write_mode::append, 0);
    if (ec) co_return reply_for(ec, {{storage_errc::not_found, "Directory not found"}});
    auto r =
        co_await detail_transfer::receive(s, writer, reply{reply_code::opening_data_connection, "Ready to append"}, p);
    co_return r;
  }
};

/// RFC 959: "This command behaves like STOR except that the resultant file is to be
/// created in the current directory under a name unique to that directory. The 250
/// Transfer Started response must include the name generated." RFC 1123 4.1.2.9 fixes
/// the preliminary reply's form: "150 FILE: pppp". An argument, if any, is taken as
/// the wished-for name; an existing file is never replaced.
struct stou {
  static constexpr std::string_view verb = "STOU";
  static constexpr needs requires_ = needs::login | needs::data_connection;
  static constexpr permissions rights = permissions::store;
  static constexpr std::string_view syntax = "STOU [<sp> pathname]";
  static constexpr int attempts = 16;
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    s.take_restart();
    std::string base = arg.empty() ? std::string("file") : std::string(arg);
    if (!s.resolve(base)) co_return coftp::detail::bad_path();
    thread_local std::minstd_rand rng{std::random_device{}()};
    for (int i = 0; i < attempts; ++i) {
      std::string name = base;
      if (i > 0 || arg.empty()) {
        char suffix[16];
        std::snprintf(suffix, sizeof suffix, ".%08x", static_cast<unsigned>(rng()));
        name += suffix;
      }
      auto p = s.resolve(name);
      auto [ec, writer] = co_await s.storage().open_write(p->storage_path, write_mode::create_new, 0);
      if (ec == storage_errc::already_exists) continue;
      if (ec) co_return reply_for(ec, {{storage_errc::not_found, "Directory not found"}});
      reply opening{reply_code::opening_data_connection, "FILE: " + std::string(file_name(p->virtual_path))};
      auto r = co_await s.receive(writer, std::move(opening), p->virtual_path);
      if (!r.ok()) co_return reply_for(r);
      co_return reply{reply_code::transfer_complete,
                      "Transfer complete (unique file name: " + std::string(file_name(p->virtual_path)) + ")"};
    }
    co_return reply{reply_code::file_name_not_allowed, "Could not find a unique file name"};
  }
};

/// RFC 3659 5.3: "The REST command is used to specify the marker of the next file
/// transfer ... The server-PI will respond to the REST command with a 350 reply,
/// indicating that the REST parameter has been saved, and that another command,
/// which should be either RETR or STOR, should then follow." Only STREAM mode exists
/// here, so the marker is the byte offset (RFC 3659 5.2).
struct rest {
  static constexpr std::string_view verb = "REST";
  static constexpr needs requires_ = needs::login | needs::argument;
  static constexpr std::string_view usage = "Missing restart offset";
  static constexpr std::string_view syntax = "REST <sp> byte-offset";
  static constexpr std::string_view feature = "REST STREAM";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    std::uint64_t offset = 0;
    auto [end, err] = std::from_chars(arg.data(), arg.data() + arg.size(), offset);
    if (err != std::errc{} || end != arg.data() + arg.size())
      co_return reply{reply_code::bad_arguments, "REST requires a byte offset (a non-negative number)"};
    if (auto refused = detail_transfer::refuse_restart(s, offset)) co_return *refused;
    s.set_restart(offset);
    co_return reply{reply_code::pending,
                    "Restarting at " + std::to_string(offset) + ". Send STOR or RETR to start the transfer"};
  }
};

}  // namespace coftp::commands
