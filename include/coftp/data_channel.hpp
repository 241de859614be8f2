// coftp/data_channel.hpp - data connections: passive (RFC 959 PASV, RFC 2428 EPSV) and
// active (RFC 959 PORT, RFC 2428 EPRT).
//
// PASV/EPSV open a listener; the next transfer accepts exactly one connection on it,
// only from the control connection's peer address (RFC 2577 "port stealing"), within
// the data timeout, and then the listener is closed. PORT/EPRT remember an address
// that the next transfer connects to, within the same timeout. Either replaces the
// other.
#pragma once

#include <coftp/address.hpp>
#include <coftp/config.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/detail/proxy_io.hpp>
#include <coftp/error.hpp>
#include <coftp/tls.hpp>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <tuple>
#include <optional>
#include <random>
#include <system_error>
#include <utility>

namespace coftp {

/// One data connection: a TCP socket, protected by TLS after PROT P (RFC 4217 9).
/// Transfers read and write through it without knowing which it is; the zero-copy path
/// (sendfile) asks `secure()` first.
class data_connection {
 public:
  using tcp = asio::ip::tcp;

  explicit data_connection(tcp::socket socket) : socket_(std::move(socket)) {}
  data_connection(data_connection&&) noexcept = default;
  data_connection& operator=(data_connection&&) noexcept = default;

  ~data_connection() {
#if COFTP_HAS_TLS
    // OpenSSL drops the session of a connection freed without close_notify (ABOR, a
    // broken transfer) from the server's cache: with TLS 1.2 session ids that would be
    // the control connection's session, and every later data connection of the session
    // would be refused. A cut data connection says nothing about the session's safety.
    if (tls_) SSL_set_shutdown(tls_->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
#endif
  }

  /// The TCP socket (for deadlines, cancellation and sendfile).
  tcp::socket& socket() noexcept {
#if COFTP_HAS_TLS
    if (tls_) return tls_->next_layer();
#endif
    return socket_;
  }

  bool secure() const noexcept {
#if COFTP_HAS_TLS
    return tls_ != nullptr;
#else
    return false;
#endif
  }

#if COFTP_HAS_TLS
  /// The server side of the TLS handshake, in `binding`'s session id context, bounded
  /// by `timeout`. With `require_reuse`, a handshake that did not resume a session of
  /// the same binding, or of another control connection of the same client and user,
  /// fails with `error::tls_not_resumed` (see coftp/tls.hpp).
  asio::awaitable<std::error_code> start_tls(asio::ssl::context& ctx, const detail::tls_binding& binding,
                                             std::chrono::steady_clock::duration timeout, bool require_reuse) {
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket>>(std::move(socket_), ctx);
    binding.apply_data(tls_->native_handle());
    // No TLS 1.3 session tickets here: clients resume the control connection's session,
    // and a ticket an uploading client never reads makes its close a TCP reset that
    // loses the end of the file (lftp/GnuTLS: 426; curl issue 6149).
    SSL_set_num_tickets(tls_->native_handle(), 0);
    auto ec = co_await detail::tls_handshake(*tls_, timeout);
    if (ec) co_return ec;
    SSL* ssl = tls_->native_handle();
    if (!detail::tls_resumed(ssl)) {
      detail::tls_forget_session(ssl);
      if (require_reuse) ec = error::tls_not_resumed;
    } else if (require_reuse) {
      // Perhaps the session of another control connection of the client (coftp/tls.hpp).
      auto budget = std::min<std::chrono::steady_clock::duration>(
          timeout, std::chrono::milliseconds(COFTP_TLS_OWNER_LOGIN_WAIT_MS));
      bool ours = co_await detail::tls_owner_confirmed(tls_->get_executor(), ssl, binding, budget);
      if (!ours) ec = error::tls_not_resumed;
    }
    co_return ec;
  }
#endif

  asio::awaitable<std::tuple<std::error_code, std::size_t>> read_some(asio::mutable_buffer buf) {
#if COFTP_HAS_TLS
    if (tls_) co_return co_await tls_->async_read_some(buf, detail::nothrow);
#endif
    co_return co_await socket_.async_read_some(buf, detail::nothrow);
  }

  asio::awaitable<std::tuple<std::error_code, std::size_t>> write_some(asio::const_buffer buf) {
#if COFTP_HAS_TLS
    if (tls_) co_return co_await tls_->async_write_some(buf, detail::nothrow);
#endif
    co_return co_await socket_.async_write_some(buf, detail::nothrow);
  }

  /// Ends the connection after a complete transfer: TLS close_notify (waiting for the
  /// peer's at most `tls_timeout`), then a TCP shutdown and close.
  asio::awaitable<void> finish(std::chrono::steady_clock::duration tls_timeout) {
#if COFTP_HAS_TLS
    if (tls_) co_await detail::tls_shutdown(*tls_, tls_timeout);
#else
    (void)tls_timeout;
#endif
    std::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    socket().close(ignored);
    co_return;
  }

  /// Closes at once (ABOR, server stop).
  void close() noexcept {
    std::error_code ignored;
    socket().close(ignored);
  }

 private:
  tcp::socket socket_;
#if COFTP_HAS_TLS
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_;
#endif
};

/// The passive listener of one session.
class data_channel {
 public:
  using tcp = asio::ip::tcp;

  explicit data_channel(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  /// Opens a listener on `local` (port from [min, max], or any when min == 0) and
  /// returns the port. Closes a previous listener first.
  std::pair<std::error_code, std::uint16_t> listen(const asio::ip::address& local, std::uint16_t min,
                                                   std::uint16_t max) {
    close();
    active_.reset();
    std::error_code ec;
    tcp::acceptor acc(ex_);
    tcp::endpoint ep(local, 0);
    acc.open(ep.protocol(), ec);
    if (ec) return {ec, 0};
    // The server closes data connections first, so their ports sit in TIME_WAIT for a
    // minute: without SO_REUSEADDR a small passive range would run dry under load.
    acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (min == 0 || max < min) {
      acc.bind(ep, ec);
    } else {
      // Start at a random port of the range so that sessions spread over it.
      thread_local std::minstd_rand rng{std::random_device{}()};
      std::uint32_t span = std::uint32_t(max) - min + 1;
      std::uint32_t first = rng() % span;
      for (std::uint32_t i = 0; i < span; ++i) {
        ep.port(static_cast<std::uint16_t>(min + (first + i) % span));
        acc.bind(ep, ec);
        if (ec != asio::error::address_in_use && ec != asio::error::access_denied) break;
      }
    }
    if (!ec) acc.listen(1, ec);
    if (ec) return {ec, 0};
    auto port = acc.local_endpoint(ec).port();
    listener_ = std::make_unique<tcp::acceptor>(std::move(acc));
    return {ec, port};
  }

  /// Active mode (PORT/EPRT): the next transfer connects from `local` (port chosen by
  /// the kernel) to `target`. Closes a passive listener.
  void connect_to(tcp::endpoint target, asio::ip::address local) {
    close();
    active_ = std::make_unique<active_target>(active_target{target, local});
  }

  /// True between PASV/EPSV/PORT/EPRT and the transfer that uses them.
  bool ready() const noexcept { return listener_ != nullptr || active_ != nullptr; }

  /// True when the next transfer is active (PORT/EPRT).
  bool active() const noexcept { return active_ != nullptr; }

  /// True for an address whose connections are relayed by a trusted PROXY-protocol
  /// proxy (server_options::proxy_protocol_from); empty: none are.
  using proxy_filter = std::function<bool(const asio::ip::address&)>;

  /// Opens the data connection of a transfer: connects (active) or accepts (passive).
  ///
  /// @par Cancellation
  /// Cancelling the awaiting coroutine (as ABOR does) completes it with an error.
  asio::awaitable<std::pair<std::error_code, tcp::socket>> open(asio::ip::address peer,
                                                                std::chrono::steady_clock::duration timeout,
                                                                proxy_filter relayed_by = {}) {
    if (active_) {
      auto target = *active_;
      active_.reset();
      auto r = co_await connect(target, timeout);
      co_return r;
    }
    auto r = co_await accept(peer, timeout, std::move(relayed_by));
    co_return r;
  }

  /// Accepts the data connection from `peer`, waiting at most `timeout`. Connections
  /// from other addresses are closed and not counted. The listener is closed after.
  /// A connection from an address `relayed_by` accepts (a load balancer forwarding the
  /// passive ports) must begin with a PROXY protocol header, read within the same
  /// timeout, and is `peer`'s only if the header names `peer`.
  ///
  /// @par Cancellation
  /// Cancelling the awaiting coroutine (as ABOR does) completes it with an error.
  asio::awaitable<std::pair<std::error_code, tcp::socket>> accept(asio::ip::address peer,
                                                                  std::chrono::steady_clock::duration timeout,
                                                                  proxy_filter relayed_by = {}) {
    using namespace asio::experimental::awaitable_operators;
    if (!listener_) co_return std::pair{std::error_code(asio::error::not_connected), tcp::socket(ex_)};
    auto until = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer timer(ex_);
    std::error_code result = asio::error::timed_out;
    for (int attempts = 0; attempts < 64; ++attempts) {
      if (!listener_) break;  // closed meanwhile (the session is being stopped)
      timer.expires_at(until);
      auto r = co_await (listener_->async_accept(detail::nothrow) || timer.async_wait(detail::nothrow));
      if (r.index() == 1) break;
      auto [ec, sock] = std::move(std::get<0>(r));
      if (ec) {
        result = ec;
        break;
      }
      std::error_code ignored;
      auto remote = sock.remote_endpoint(ignored);
      auto from = remote.address();
      if (!ignored && relayed_by && relayed_by(normalized_address(from))) {
        auto [pec, header] = co_await detail::read_proxy_header(sock, until);
        if (pec) ignored = pec;  // no header: refused like any foreign peer
        else if (header.relayed) from = header.source;
      }
      if (!ignored && same_address(from, peer)) {
        close();
        sock.set_option(tcp::no_delay(true), ignored);
        co_return std::pair{std::error_code{}, std::move(sock)};
      }
      sock.close(ignored);  // someone else's connection: refuse and keep waiting
    }
    close();
    co_return std::pair{result, tcp::socket(ex_)};
  }

  /// Forgets the passive listener and the active target.
  void reset() noexcept {
    close();
    active_.reset();
  }

  void close() noexcept {
    if (listener_) {
      std::error_code ignored;
      listener_->close(ignored);
      listener_.reset();
    }
  }

 private:
  struct active_target {
    tcp::endpoint remote;
    asio::ip::address local;
  };

  // Connects from the control connection's local address, so that the client sees the
  // data connection come from the host it talks to (firewalls check that).
  asio::awaitable<std::pair<std::error_code, tcp::socket>> connect(active_target target,
                                                                 std::chrono::steady_clock::duration timeout) {
    using namespace asio::experimental::awaitable_operators;
    tcp::socket sock(ex_);
    std::error_code ec;
    sock.open(target.remote.protocol(), ec);
    if (!ec) sock.bind(tcp::endpoint(target.local, 0), ec);
    if (ec) co_return std::pair{ec, std::move(sock)};
    asio::steady_timer timer(ex_, timeout);
    auto r = co_await (sock.async_connect(target.remote, detail::nothrow) || timer.async_wait(detail::nothrow));
    if (r.index() == 1) ec = asio::error::timed_out;
    else ec = std::get<0>(std::get<0>(r));
    if (ec) {
      std::error_code ignored;
      sock.close(ignored);
      co_return std::pair{ec, tcp::socket(ex_)};
    }
    std::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    co_return std::pair{std::error_code{}, std::move(sock)};
  }

  // Behind pointers: most sessions, most of the time, have neither (an idle session
  // costs 16 bytes here instead of 160).
  asio::any_io_executor ex_;
  std::unique_ptr<tcp::acceptor> listener_;
  std::unique_ptr<active_target> active_;
};

}  // namespace coftp
