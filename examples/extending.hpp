// extending.hpp - coftp's three extension points in code: a storage decorator, an
// authenticator and a command, and the policies that put them together. The README
// shows each part (between its "// [name]" markers) as it is here; tests/check_readme.py
// checks that they agree, examples/extended_server.cpp serves them, and
// tests/test_commands.cpp drives those policies over loopback.
#pragma once

#include <coftp/coftp.hpp>
#include <coftp/storage/decorator.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace example {

// [decorator]
// At most `limit` bytes per upload (STOR, APPE, STOU: the bytes it sends, whatever the
// file held before; a quota of a user's total is another decorator): a decorator
// changes only what it declares (here open_write), storage_decorator forwards the rest.
// Its writer has no native_handle(), so the server calls write() for every byte instead
// of splicing past it.
template <coftp::storage_backend S>
class size_limited : public coftp::storage_decorator<S> {
 public:
  class writer {
   public:
    writer() = default;
    writer(typename S::writer inner, std::uint64_t room) : inner_(std::move(inner)), room_(room) {}
    asio::awaitable<std::error_code> write(asio::const_buffer b) {
      if (b.size() > room_) co_return make_error_code(coftp::storage_errc::no_space);  // 452
      room_ -= b.size();
      auto ec = co_await inner_.write(b);
      co_return ec;
    }
    asio::awaitable<std::error_code> commit() {
      auto ec = co_await inner_.commit();
      co_return ec;
    }

   private:
    typename S::writer inner_;
    std::uint64_t room_ = 0;
  };

  size_limited(S inner, std::uint64_t limit) : coftp::storage_decorator<S>(std::move(inner)), limit_(limit) {}

  asio::awaitable<coftp::result<writer>> open_write(std::string path, coftp::write_mode mode,
                                                    std::uint64_t offset = 0) {
    auto [ec, w] = co_await this->inner().open_write(std::move(path), mode, offset);
    co_return coftp::result<writer>(ec, writer(std::move(w), limit_));
  }

 private:
  std::uint64_t limit_;
};
// [decorator]

// [authenticator]
// One shared password for a team: every name of `members` logs in with it, each in a
// home of its own; anybody else is refused. authenticate() may co_await (a database,
// an HTTP call); nullopt refuses the login with 530.
class team_auth {
 public:
  team_auth(std::vector<std::string> members, std::string password)
      : members_(std::move(members)), password_(std::move(password)) {}

  asio::awaitable<std::optional<coftp::user>> authenticate(const coftp::credentials& c) {
    bool member = std::find(members_.begin(), members_.end(), c.username) != members_.end();
    // The password is compared for strangers too, in time that tells nothing of it
    // but its length.
    bool right = coftp::constant_time_equal(c.password, password_);
    if (!member || !right) co_return std::nullopt;
    co_return coftp::user{.name = std::string(c.username),
                          .home = "/home/" + std::string(c.username),
                          .perms = coftp::permissions::all};
  }

 private:
  std::vector<std::string> members_;
  std::string password_;
};
// [authenticator]

// [command]
// "XCRC file": the CRC-32 of a file, read through the storage. Dispatch checks the
// declared needs first (530, 501, 550 Permission denied, 501 Invalid path), so run()
// gets a resolved path; `s` offers what coftp::handler_session names (storage(),
// user(), cwd(), write_reply(), ...). A storage error becomes the RFC 959 reply of
// reply_for (550 File not found, ...).
struct xcrc {
  static constexpr std::string_view verb = "XCRC";
  static constexpr coftp::needs requires_ = coftp::needs::login | coftp::needs::argument | coftp::needs::path;
  static constexpr coftp::permissions rights = coftp::permissions::retrieve;
  static constexpr std::string_view usage = "XCRC requires a path";
  static constexpr std::string_view syntax = "XCRC <sp> pathname";
  static constexpr std::string_view feature = "XCRC";  // its FEAT line

  template <class Session>
  static asio::awaitable<coftp::reply> run(Session& s, coftp::resolved_path p) {
    auto [ec, reader] = co_await s.storage().open_read(p.storage_path, 0);
    if (ec) co_return coftp::reply_for(ec);
    std::uint32_t crc = 0xFFFFFFFFu;
    char buf[8192];
    for (;;) {
      auto [rec, n] = co_await reader.read_some(asio::buffer(buf));
      if (rec) co_return coftp::reply_for(rec);
      if (n == 0) break;
      for (std::size_t i = 0; i < n; ++i) {
        crc ^= static_cast<unsigned char>(buf[i]);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
      }
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08X", crc ^ 0xFFFFFFFFu);
    co_return coftp::reply{coftp::reply_code::file_action_ok, hex};
  }
};
// [command]

// [policies]
// The three together: a server whose policies name them.
struct policies : coftp::default_policies {
  using storage = size_limited<coftp::memory_fs>;
  using authenticator = team_auth;
  using commands = coftp::default_commands::with<xcrc>;
};
// [policies]

}  // namespace example
