// coftp/handler_session.hpp - what a command handler may use of its session, named.
//
// A handler is `template <class Session> static asio::awaitable<reply> run(Session& s,
// std::string_view argument)`: it sees `s` through these members and nothing else, so a
// fake session that has them runs handlers without sockets (tests/test_unit.cpp does).
// The dialogue's state is `session_state`'s (login, working directory, TYPE, REST, PBSZ,
// PROT, RNFR's source...); the rest is the I/O a session does for its handlers.
#pragma once

#include <coftp/address.hpp>
#include <coftp/observer.hpp>
#include <coftp/outcome.hpp>
#include <coftp/options.hpp>
#include <coftp/reply.hpp>
#include <coftp/session_state.hpp>

#include <asio/awaitable.hpp>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coftp {

/// The members handlers use; `basic_session` has them.
///
/// The transfer members are templates and not checked here (a concept cannot quantify
/// over every reader): `co_await s.send(reader, reply{150, ...}, path)` (RETR),
/// `co_await s.receive(writer, reply{150, ...}, path)` (STOR) and `co_await
/// s.send_generated(source, reply{150, ...}, path)` (a listing), each returning a
/// `transfer_result` that `reply_for` words when it failed.
template <class S>
concept handler_session =
    std::derived_from<S, session_state> &&
    requires(S& s, const S& cs, std::string_view text, reply r, const asio::ip::address& a, host_port hp) {
      typename S::storage_type;
      typename S::commands;  ///< the command table (FEAT, HELP, OPTS MLST look into it)
      typename S::active_target;

      { cs.options() } -> std::convertible_to<const server_options&>;
      { cs.info() } -> std::convertible_to<const session_info&>;
      { s.storage() } -> std::same_as<typename S::storage_type&>;

      // Logging in (USER, PASS, REIN, HOST): the authenticator is asked by finish_login.
      s.begin_login(std::string(text));
      { s.finish_login(text) } -> std::same_as<asio::awaitable<bool>>;
      { s.select_host(text) } -> std::convertible_to<bool>;
      s.reinitialize();
      { cs.banned() } -> std::convertible_to<bool>;
      { s.refuse_banned() } -> std::same_as<reply>;

      // A reply before the handler's own (150, 234, 250-...).
      { s.write_reply(r) } -> std::same_as<asio::awaitable<void>>;

      // Data connections (PASV, EPSV, PORT, EPRT) and what STAT says of them.
      { cs.local_address() } -> std::same_as<std::optional<asio::ip::address>>;
      { s.listen_passive(a) } -> std::same_as<std::uint16_t>;
      { s.connect_active(hp) } -> std::same_as<typename S::active_target>;
      { cs.data_ready() } -> std::convertible_to<bool>;
      { cs.data_mode() } -> std::convertible_to<std::string_view>;

      // FTPS (AUTH, PBSZ, PROT).
      { cs.tls_offered() } -> std::convertible_to<bool>;
      { cs.tls_required() } -> std::convertible_to<bool>;
      { cs.control_secure() } -> std::convertible_to<bool>;
      { s.secure_control(true) } -> std::same_as<asio::awaitable<void>>;

      // The transfer under way (STAT, ABOR).
      { cs.progress() } -> std::convertible_to<const transfer_progress&>;
      { cs.transfer_reporting() } -> std::convertible_to<bool>;
      { s.take_transfer_cut() } -> std::convertible_to<bool>;
    };

}  // namespace coftp
