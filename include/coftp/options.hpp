// coftp/options.hpp - run-time settings of a server, an aggregate with documented defaults.
#pragma once

#include <coftp/throttle.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coftp {

/// FTPS settings (RFC 4217). TLS is offered only when `certificate_file` is set (and
/// coftp is built with COFTP_HAS_TLS); the safe behaviour is the default, the unsafe
/// one an explicit choice.
struct tls_options {
  std::string certificate_file{};  ///< PEM certificate chain; empty: no TLS at all
  std::string private_key_file{};  ///< PEM private key; empty: taken from certificate_file

  /// No USER/PASS before AUTH TLS (530) and no data connection without PROT P (521).
  bool required = false;
  /// A PROT P data connection must resume its own control connection's TLS session,
  /// else it is refused before a byte moves (vsftpd's require_ssl_reuse). Turn off
  /// only for clients that cannot resume (Python's ftplib).
  bool require_session_reuse = true;
  /// An upload whose TLS stream ends without close_notify is refused (426) instead of
  /// stored. Off by default: curl and others close uploads that way.
  bool require_close_notify = false;

  /// Implicit FTPS (TLS from the first byte, traditionally port 990) on a listener of
  /// its own at `server_options::host`; nullopt: none; 0 picks a free port
  /// (`basic_server::implicit_tls_endpoint()`).
  std::optional<std::uint16_t> implicit_port{};
  /// An implicit FTPS socket already listening, to serve instead of binding
  /// `implicit_port` (socket activation: systemd passes it): -1, the default, for none.
  /// Taken over as `server_options::listen_fd` is.
  int implicit_listen_fd = -1;
  /// Serve implicit FTPS, explicit FTPS and plain FTP on the one control port: a
  /// client whose first bytes, sent within `detect_wait`, are a TLS ClientHello gets
  /// implicit TLS; others get the 220 greeting after that wait.
  bool detect_on_control_port = false;
  std::chrono::milliseconds detect_wait{250};

  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};  ///< each TLS handshake
  std::chrono::milliseconds shutdown_timeout{std::chrono::milliseconds(500)};  ///< wait for close_notify

  bool enabled() const noexcept { return !certificate_file.empty(); }
};

/// Settings of a server. Use designated initializers:
/// `server_options{.port = 2121, .idle_timeout = std::chrono::minutes(5)}`.
struct server_options {
  std::string host = "127.0.0.1";  ///< address to listen on
  std::uint16_t port = 2121;       ///< 0 picks a free port (read it back with `endpoint()`)
  /// A TCP socket already bound and listening (socket activation: systemd or another
  /// supervisor opened it), served instead of binding `host`:`port`, which are then
  /// unused; -1, the default: bind. The server takes the descriptor over at construction
  /// and closes it when destroyed: one server per descriptor. Checking that it is a
  /// listening stream socket (sd_is_socket_inet(3)) is the caller's part.
  int listen_fd = -1;

  std::string greeting = "coftp FTP server ready";  ///< text of the 220 banner

  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};  ///< idle control connection is closed with 421
  std::chrono::milliseconds data_timeout{std::chrono::seconds(30)};  ///< wait for a data connection, or a stalled one
  std::chrono::milliseconds login_failure_delay{1000};  ///< pause before "530 Login incorrect"
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(10)};  ///< how long `stop()` lets transfers finish
  /// How long an upload whose data connection has ended waits, before it is committed,
  /// for a sign that its client is gone: a killed client's kernel closes the data
  /// connection first, with a FIN that looks like the end of the file, and the control
  /// connection a moment later. A closed control connection (without QUIT) drops the
  /// upload and keeps the old file. Costs each upload this much latency, no CPU; 0
  /// checks only what has arrived already.
  std::chrono::microseconds upload_end_wait{1000};

  std::uint16_t passive_port_min = 0;  ///< passive range; 0/0 lets the kernel choose
  std::uint16_t passive_port_max = 0;
  std::string passive_address{};  ///< address announced in 227 (NAT); empty: the control address
  bool active_mode = true;        ///< PORT/EPRT allowed (to the client's own address, ports >= 1024)

  std::size_t max_sessions = 1000;            ///< beyond it: "421 Too many connections"
  std::size_t max_sessions_per_address = 50;  ///< per client IP address

  tls_options tls{};  ///< FTPS (RFC 4217)

  /// Bandwidth limits (throttle.hpp), bytes per second per direction, 0 unlimited:
  /// `session_rate` caps each session's file transfers, `user_rate` all the sessions of
  /// one user together (a user's own `user::rate` takes its place).
  rate_limits session_rate{};
  rate_limits user_rate{};
  // Login abuse (coftp/address_guard.hpp). A client address is the IP address, an
  // IPv4-mapped IPv6 address counting as its IPv4 form.
  std::chrono::milliseconds login_timeout{std::chrono::seconds(60)};  ///< connect to successful PASS, else 421
  std::size_t max_login_failures = 3;  ///< failed PASS per connection, then closed after the 530; 0: no limit
  std::size_t ban_after = 10;          ///< failed logins from one address within ban_window ban it; 0: never
  std::chrono::milliseconds ban_window{std::chrono::minutes(5)};
  std::chrono::milliseconds ban_time{std::chrono::minutes(15)};  ///< banned: 421 at connect, USER and PASS
  std::size_t max_tracked_addresses = 10000;  ///< bound of the failure table; the oldest entries go first
  std::vector<std::string> allow{};  ///< CIDR blocks ("10.0.0.0/8", "::1"); empty: every address
  std::vector<std::string> deny{};   ///< CIDR blocks refused with 421 at connect; deny wins over allow

  /// PROXY protocol (HAProxy's proxy-protocol.txt, v1 and v2) from these CIDR blocks
  /// ("10.0.0.5", "10.0.0.0/24"): a control connection from one of them must begin with
  /// a PROXY header, read within `proxy_protocol_timeout` before the greeting, and the
  /// client it names is the session's address for the allow/deny lists, bans,
  /// per-address limits, the data-connection peer check, PORT/EPRT and the logs. A
  /// missing or bad header closes the connection without a reply. Passive data
  /// connections from these blocks must begin with a header naming the client too.
  /// Connections from other addresses are served as direct clients (no header read).
  /// Empty (the default): off.
  std::vector<std::string> proxy_protocol_from{};
  std::chrono::milliseconds proxy_protocol_timeout{std::chrono::seconds(5)};  ///< to read the PROXY header
};

}  // namespace coftp
