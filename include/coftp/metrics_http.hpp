// coftp/metrics_http.hpp - a small HTTP/1.1 listener (RFC 9112) for Prometheus and
// health checks: `GET /metrics` (the text a callback renders, as coftp/metrics.hpp's
// metrics_registry does) and `GET /healthz` (200 "ok", or 503 "draining").
//
// Bounded on purpose, since anything that can reach the port can talk to it: one request
// per connection (`Connection: close`), the request head (line and headers) at most
// `max_request` bytes and received within `timeout`, the answer sent within `timeout`
// too, at most `max_connections` at once (the others are closed at once). Only GET; a
// request body is never read. 400 for a request line that is not HTTP/1.x, 405 for other
// methods, 404 for other paths, 408 when the head is too slow, 431 when it is too big.
#pragma once

#include <coftp/detail/io.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

namespace coftp {

/// Limits of a metrics_http_server.
struct metrics_http_options {
  std::size_t max_connections = 8;                  ///< open at once; more are closed unanswered
  std::size_t max_request = 8192;                   ///< bytes of the request line and headers
  std::chrono::milliseconds timeout{std::chrono::seconds(5)};  ///< to receive the head; to send the answer
};

/// Serves `GET /metrics` and `GET /healthz` on one address and port (see the top of
/// this header). Thread-safe: `start`, `stop` and `endpoint` may be called from any
/// thread; the connections run on a strand of the executor.
///
/// @par Example
/// @code
/// auto metrics = std::make_shared<coftp::metrics_registry>();
/// coftp::metrics_http_server http(io.get_executor(), "127.0.0.1", 9121,
///                                 [metrics] { return metrics->render(); },
///                                 [metrics] { return !metrics->draining(); });
/// http.start();   // throws std::system_error when the address cannot be bound
/// std::cout << "metrics on " << http.endpoint() << '\n';
/// @endcode
class metrics_http_server {
 public:
  using tcp = asio::ip::tcp;

  /// `address`: an IPv4 or IPv6 address, or "localhost" (127.0.0.1); `port` 0 takes a
  /// free one (read it back with `endpoint()`). `metrics` makes the /metrics body (in the
  /// text format 0.0.4); `healthy` says whether /healthz answers 200 (else 503). Both
  /// are called on the listener's strand.
  metrics_http_server(asio::any_io_executor ex, std::string address, std::uint16_t port,
                      std::function<std::string()> metrics, std::function<bool()> healthy,
                      metrics_http_options options = {})
      : state_(std::make_shared<state>(asio::make_strand(ex))), address_(std::move(address)), port_(port) {
    state_->metrics = std::move(metrics);
    state_->healthy = std::move(healthy);
    state_->options = options;
    if (state_->options.max_connections == 0) state_->options.max_connections = 1;
  }

  metrics_http_server(const metrics_http_server&) = delete;
  metrics_http_server& operator=(const metrics_http_server&) = delete;

  /// Stops (the connections end once the executor runs their cancellation).
  ~metrics_http_server() { stop(); }

  /// Binds and starts accepting. Throws std::system_error when the address is not one,
  /// or cannot be bound; calling it twice is a programmer error (std::logic_error).
  void start() {
    if (started_) throw std::logic_error("metrics_http_server: started twice");
    std::string_view a = address_;
    if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    auto addr = a == "localhost" ? asio::ip::address(asio::ip::address_v4::loopback())
                                 : asio::ip::make_address(std::string(a));  // throws on a bad address
    tcp::endpoint ep(addr, port_);
    auto acc = std::make_unique<tcp::acceptor>(state_->strand);
    acc->open(ep.protocol());
    acc->set_option(tcp::acceptor::reuse_address(true));
    acc->bind(ep);
    acc->listen();
    {
      std::lock_guard lock(state_->mutex);
      state_->endpoint = acc->local_endpoint();
    }
    state_->acceptor = std::move(acc);
    started_ = true;
    asio::co_spawn(state_->strand, accept_loop(state_), [](std::exception_ptr) {
      // accept_loop catches what it can; only bad_alloc ends up here, and ends the listener.
    });
  }

  /// Stops accepting and closes the open connections. Idempotent.
  void stop() {
    asio::dispatch(state_->strand, [st = state_] {
      st->stopped = true;
      std::error_code ignored;
      if (st->acceptor) st->acceptor->close(ignored);
      for (auto* s : st->open) s->close(ignored);
    });
  }

  /// Where it listens (the port chosen when 0 was asked), once started.
  tcp::endpoint endpoint() const {
    std::lock_guard lock(state_->mutex);
    return state_->endpoint;
  }

 private:
  struct state {
    explicit state(asio::strand<asio::any_io_executor> s) : strand(std::move(s)) {}
    asio::strand<asio::any_io_executor> strand;
    std::function<std::string()> metrics;
    std::function<bool()> healthy;
    metrics_http_options options;
    std::unique_ptr<tcp::acceptor> acceptor;  // on the strand after start()
    std::unordered_set<tcp::socket*> open;    // connections being served (strand only)
    bool stopped = false;                     // strand only
    mutable std::mutex mutex;                 // guards endpoint
    tcp::endpoint endpoint;
  };

  struct answer {
    int status = 200;
    std::string_view reason = "OK";
    std::string body;
    std::string_view content_type = "text/plain; charset=utf-8";
  };

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    while (!st->stopped) {
      auto [ec, sock] = co_await st->acceptor->async_accept(detail::nothrow);
      if (st->stopped || ec == asio::error::operation_aborted) break;
      if (ec) {
        // EMFILE and the like: pause, then try again (never fatal).
        asio::steady_timer pause(st->strand, std::chrono::milliseconds(100));
        co_await pause.async_wait(detail::nothrow);
        continue;
      }
      if (st->open.size() >= st->options.max_connections) {
        std::error_code ignored;
        sock.close(ignored);
        continue;
      }
      auto conn = std::make_shared<tcp::socket>(std::move(sock));
      st->open.insert(conn.get());
      asio::co_spawn(st->strand, serve(st, conn), [st, conn](std::exception_ptr) {
        // A throwing metrics callback is answered 500 in serve; bad_alloc lands here and
        // costs this connection only.
        st->open.erase(conn.get());
        std::error_code ignored;
        conn->close(ignored);
      });
    }
  }

  static asio::awaitable<void> serve(std::shared_ptr<state> st, std::shared_ptr<tcp::socket> sock) {
    const auto& o = st->options;
    std::string head;
    detail::deadline dl(st->strand);
    dl.arm(o.timeout, *sock);  // for the whole head: a client trickling bytes times out too
    auto [ec, n] = co_await asio::async_read_until(*sock, asio::dynamic_buffer(head, o.max_request), "\r\n\r\n",
                                                   detail::nothrow);
    dl.disarm();
    answer a;
    if (!ec) a = respond(*st, std::string_view(head).substr(0, n));
    else if (ec == asio::error::not_found) a = {431, "Request Header Fields Too Large", "request too large\n"};
    else if (dl.expired() && !st->stopped) a = {408, "Request Timeout", "request timeout\n"};
    else co_return;  // the client left (or we stop): nobody to answer
    std::string out = "HTTP/1.1 " + std::to_string(a.status) + ' ' + std::string(a.reason) +
                      "\r\nContent-Type: " + std::string(a.content_type) +
                      "\r\nContent-Length: " + std::to_string(a.body.size()) +
                      (a.status == 405 ? "\r\nAllow: GET" : "") +
                      "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    out += a.body;
    dl.arm(o.timeout, *sock);
    auto [wec, written] = co_await asio::async_write(*sock, asio::buffer(out), detail::nothrow);
    (void)written;
    if (!wec) {
      // Half-close, then drain what the client still sends (a body, the rest of an
      // oversized head) until its FIN: closing with unread bytes would send a reset,
      // and a reset can destroy the answer before the client reads it. Bounded by the
      // deadline still armed and by a byte budget.
      std::error_code ignored;
      sock->shutdown(tcp::socket::shutdown_send, ignored);
      char sink[4096];
      for (std::size_t drained = 0; drained < 16 * o.max_request + sizeof sink;) {
        auto [rec, got] = co_await sock->async_read_some(asio::buffer(sink), detail::nothrow);
        if (rec) break;
        drained += got;
      }
    }
    dl.disarm();
  }

  // The answer to a complete request head (request line, headers, empty line).
  static answer respond(state& st, std::string_view head) {
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
      return {400, "Bad Request", "bad request\n"};
    auto method = line.substr(0, sp1);
    auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    auto version = line.substr(sp2 + 1);
    if (method.empty() || !token(method) || target.empty() || target.front() != '/' ||
        !(version == "HTTP/1.1" || version == "HTTP/1.0"))
      return {400, "Bad Request", "bad request\n"};
    if (method != "GET") return {405, "Method Not Allowed", "only GET\n"};
    auto path = target.substr(0, target.find('?'));
    if (path == "/metrics") {
      try {
        return {200, "OK", st.metrics ? st.metrics() : std::string(), "text/plain; version=0.0.4; charset=utf-8"};
      } catch (const std::exception&) {
        return {500, "Internal Server Error", "metrics unavailable\n"};
      }
    }
    if (path == "/healthz") {
      bool ok = true;
      try {
        ok = !st.healthy || st.healthy();
      } catch (const std::exception&) {
        ok = false;
      }
      if (ok) return {200, "OK", "ok\n"};
      return {503, "Service Unavailable", "draining\n"};
    }
    return {404, "Not Found", "not found\n"};
  }

  // RFC 9110 5.6.2: a token is one or more tchar.
  static bool token(std::string_view s) noexcept {
    for (unsigned char c : s) {
      bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) == std::string_view::npos)
        return false;
    }
    return true;
  }

  std::shared_ptr<state> state_;
  std::string address_;
  std::uint16_t port_;
  bool started_ = false;
};

}  // namespace coftp
