// coftp/observer.hpp - events a server reports to the embedding program.
//
// An observer policy is any class with the member functions of `null_observer`; derive
// from it and hide the ones you care about (no virtual calls). Calls come from the
// session's strand (refusals at connect: the server's accept strand): with several
// threads, an observer shared by sessions must be thread-safe. PASS arguments are masked before an observer sees them.
#pragma once

#include <coftp/command.hpp>
#include <coftp/outcome.hpp>
#include <coftp/reply.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

namespace coftp {

/// Identifies one control connection in events.
struct session_info {
  std::uint64_t id = 0;
  std::string remote_address{};  ///< textual IP
  std::uint16_t remote_port = 0;
};

/// A finished transfer.
struct transfer_event {
  transfer_direction direction = transfer_direction::download;
  transfer_outcome outcome = transfer_outcome::completed;
  std::string path{};  ///< virtual path as the user sees it
  std::string user{};
  std::uint64_t bytes = 0;
  std::chrono::steady_clock::duration duration{};
  bool ascii = false;      ///< TYPE A (line endings converted) during the transfer, else TYPE I
  bool anonymous = false;  ///< the user logged in anonymously ("anonymous" or "ftp")
};

/// Why a connection, or a login attempt, was refused.
enum class refusal {
  denied,             ///< the allow/deny lists refuse the address (at connect)
  banned,             ///< the address is banned after failed logins (at connect, USER or PASS)
  too_many_sessions,  ///< over max_sessions or max_sessions_per_address (at connect)
  out_of_descriptors, ///< the process had no descriptor left for it (EMFILE, ENFILE; at connect)
  bad_proxy_header,   ///< a trusted proxy's connection sent no valid PROXY header in time (closed, no reply)
};

/// The connection a TLS handshake was on.
enum class tls_channel {
  control,  ///< AUTH TLS, or implicit FTPS before the greeting
  data,     ///< a data connection under PROT P
};

/// Why a data connection was not made (the transfer command's 425, or PASV's).
enum class data_failure {
  listen,   ///< PASV/EPSV found no port to listen on
  accept,   ///< passive: no connection from the client within the data timeout
  connect,  ///< active (PORT/EPRT): connecting to the client failed or timed out
};

/// Receives nothing; the default policy and the base for custom observers.
struct null_observer {
  void on_connect(const session_info&) {}
  void on_command(const session_info&, const command&) {}  ///< PASS arrives masked
  void on_reply(const session_info&, const reply&) {}
  void on_login(const session_info&, std::string_view /*user*/, bool /*success*/) {}
  void on_transfer(const session_info&, const transfer_event&) {}
  void on_disconnect(const session_info&) {}
  /// A refusal with 421. At connect no session follows: `id` is 0.
  void on_refused(const session_info&, refusal) {}
  /// This session's failed login banned its address for `duration`.
  void on_ban(const session_info&, std::chrono::milliseconds /*duration*/) {}
  /// A TLS handshake ended: `ec` empty when it succeeded; `error::tls_not_resumed` for a
  /// data connection refused for not resuming the control connection's session.
  void on_tls_handshake(const session_info&, tls_channel, std::error_code /*ec*/) {}
  /// A data connection could not be made (before on_transfer, which follows for a transfer).
  void on_data_connection_failed(const session_info&, data_failure) {}
  /// A transfer ended because the storage backend failed (`ec`: its error; see `classify`).
  void on_storage_error(const session_info&, std::error_code /*ec*/) {}
};

/// Several observers as one: each event goes to every member, in order.
///
/// @par Example
/// @code
/// using observer = coftp::observers<my_console_log, coftp::xferlog_observer>;
/// observer obs{my_console_log{}, coftp::xferlog_observer(coftp::log_file::open("/var/log/xferlog"))};
/// @endcode
template <class... Observers>
struct observers {
  std::tuple<Observers...> members;

  observers() = default;
  explicit observers(Observers... each)
    requires(sizeof...(Observers) > 0)
      : members(std::move(each)...) {}

  /// The member of type `O`.
  template <class O>
  O& get() noexcept { return std::get<O>(members); }

  void on_connect(const session_info& s) { each([&](auto& o) { o.on_connect(s); }); }
  void on_command(const session_info& s, const command& c) { each([&](auto& o) { o.on_command(s, c); }); }
  void on_reply(const session_info& s, const reply& r) { each([&](auto& o) { o.on_reply(s, r); }); }
  void on_login(const session_info& s, std::string_view user, bool success) {
    each([&](auto& o) { o.on_login(s, user, success); });
  }
  void on_transfer(const session_info& s, const transfer_event& t) { each([&](auto& o) { o.on_transfer(s, t); }); }
  void on_disconnect(const session_info& s) { each([&](auto& o) { o.on_disconnect(s); }); }
  void on_refused(const session_info& s, refusal why) { each([&](auto& o) { o.on_refused(s, why); }); }
  void on_ban(const session_info& s, std::chrono::milliseconds d) { each([&](auto& o) { o.on_ban(s, d); }); }
  void on_tls_handshake(const session_info& s, tls_channel c, std::error_code ec) {
    each([&](auto& o) { o.on_tls_handshake(s, c, ec); });
  }
  void on_data_connection_failed(const session_info& s, data_failure why) {
    each([&](auto& o) { o.on_data_connection_failed(s, why); });
  }
  void on_storage_error(const session_info& s, std::error_code ec) { each([&](auto& o) { o.on_storage_error(s, ec); }); }

 private:
  template <class F>
  void each(F&& f) {
    std::apply([&](auto&... o) { (f(o), ...); }, members);
  }
};

}  // namespace coftp
