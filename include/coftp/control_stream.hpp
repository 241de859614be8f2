// coftp/control_stream.hpp - the control connection (RFC 959 section 2.3): reading
// command lines and writing replies.
//
// Handlers never touch the socket: they talk to the session, which talks to this
// stream. That is what lets AUTH TLS (RFC 4217) upgrade the connection in place
// without changing a single handler.
#pragma once

#include <coftp/config.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/error.hpp>
#include <coftp/reply.hpp>
#include <coftp/tls.hpp>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <chrono>
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

namespace coftp {

/// A control connection with its line buffer, in clear or, after `start_tls`, TLS.
class control_stream {
 public:
  using socket_type = asio::ip::tcp::socket;
#if COFTP_HAS_TLS
  using tls_stream = asio::ssl::stream<socket_type&>;
#endif

  explicit control_stream(socket_type socket) : socket_(std::move(socket)) {
    // Clients send ABOR as TCP urgent data: Python's ftplib sends "ABOR\r\n" with
    // MSG_OOB, others the Telnet Synch "IAC DM" (RFC 959 4.1.3). Without SO_OOBINLINE
    // the kernel takes the urgent byte (the LF, or the DM) out of the stream, so the
    // line never ends and ABOR is glued to the next command.
    using oob_inline = asio::detail::socket_option::boolean<ASIO_OS_DEF(SOL_SOCKET), ASIO_OS_DEF(SO_OOBINLINE)>;
    std::error_code ignored;
    socket_.set_option(oob_inline(true), ignored);
  }

  /// The TCP socket underneath (for addresses, options, cancellation).
  socket_type& lowest_layer() noexcept { return socket_; }
  const socket_type& lowest_layer() const noexcept { return socket_; }
  asio::any_io_executor get_executor() { return socket_.get_executor(); }

  /// Reads one line (without its CRLF or LF).
  ///
  /// A line longer than COFTP_MAX_LINE_LENGTH completes with `error::line_too_long`
  /// once its end has been read and thrown away: memory stays bounded and the next
  /// call reads the next line. Lines already buffered (pipelined commands) are
  /// returned without touching the socket.
  ///
  /// @par Cancellation
  /// Cancelling the socket completes it with `operation_aborted`; bytes of a line
  /// read so far stay buffered for the next call.
  asio::awaitable<std::pair<std::error_code, std::string>> read_line() {
    for (;;) {
      std::error_code ec;
      if (auto line = take_line(ec)) co_return std::pair{ec, std::move(*line)};
#if COFTP_HAS_TLS
      if (tls_) {
        ec = co_await read_tls();
        if (ec) co_return std::pair{ec, std::string()};
        continue;
      }
#endif
      // Clear text: wait for readability with no buffer at all, then read what is
      // there (read_available). An idle session so holds no line buffer.
      if (read_available(ec)) continue;
      if (ec) co_return std::pair{ec, std::string()};
      std::tie(ec) = co_await wait_readable();
      if (ec) co_return std::pair{ec, std::string()};
    }
  }

  /// Waits until the connection has bytes to read (or EOF, or an error), without
  /// reading them and without a buffer: what an idle session awaits. Clear text only:
  /// under TLS, OpenSSL may already hold the next record's bytes (call read_line). The
  /// awaitable is Asio's own, so that no coroutine frame of coftp's is added to the
  /// idle session's stack.
  ///
  /// @par Cancellation
  /// Cancelling the socket completes it with `operation_aborted`.
  asio::awaitable<std::tuple<std::error_code>> wait_readable() {
    return socket_.async_wait(socket_type::wait_read, asio::bind_allocator(detail::exact_allocator<void>(), detail::nothrow));
  }

  /// True if a complete line is already buffered (a pipelined command).
  bool has_buffered_line() const noexcept { return buffer_.find('\n', scanned_) != std::string::npos; }

  /// Writes a reply.
  asio::awaitable<std::error_code> write(const reply& r) {
    // Formatted in this coroutine's frame, freed with it: an idle session keeps no
    // output buffer.
    std::string out;
    format_reply(out, r);
    std::error_code ec;
#if COFTP_HAS_TLS
    if (tls_) std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(out), detail::nothrow);
    else
#endif
      std::tie(ec, std::ignore) = co_await asio::async_write(socket_, asio::buffer(out), detail::nothrow);
    co_return ec;
  }

  /// Releases memory held by the line buffer while the session is idle.
  void shrink() {
    if (buffer_.empty() && buffer_.capacity() > std::string().capacity()) std::string().swap(buffer_);
  }

#if COFTP_HAS_TLS
  /// Turns the connection into TLS (after "234" to AUTH TLS, or at once for implicit
  /// FTPS): the server side of the handshake, bounded by `timeout`. On error the
  /// connection is unusable; close it.
  ///
  /// Whatever the client sent after AUTH TLS and before its handshake was sent in clear,
  /// where anyone on the path could have added it: such bytes are dropped, never read
  /// as commands inside the TLS session (the STARTTLS injection, CVE-2011-0411). Bytes
  /// still in the kernel would be read as TLS records and fail the handshake.
  asio::awaitable<std::error_code> start_tls(asio::ssl::context& ctx, const detail::tls_binding& binding,
                                             std::chrono::steady_clock::duration timeout) {
    buffer_.clear();
    scanned_ = 0;
    discarding_ = false;
    tls_ = std::make_unique<tls_stream>(socket_, ctx);
    binding.apply(tls_->native_handle());
    auto ec = co_await detail::tls_handshake(*tls_, timeout);
    co_return ec;
  }

  /// Sends close_notify, waiting for the peer's at most `timeout`.
  asio::awaitable<void> shutdown_tls(std::chrono::steady_clock::duration timeout) {
    if (tls_) co_await detail::tls_shutdown(*tls_, timeout);
  }
#endif

  /// True once the connection is TLS.
  bool secure() const noexcept {
#if COFTP_HAS_TLS
    return tls_ != nullptr;
#else
    return false;
#endif
  }

  /// The first bytes the client sent, without consuming them, waiting for them at most
  /// `wait`: to tell a TLS ClientHello (implicit FTPS) from a client waiting for the
  /// greeting. Empty when nothing came in time (or the client left).
  ///
  /// The peek itself never blocks: the reactor may report the socket readable with no
  /// bytes there (it did, now and then, under load), and a blocking peek then waited for
  /// the client - who waits for the greeting - until it gave up. Such a wake-up waits
  /// again, within the same `wait`.
  asio::awaitable<std::string> peek(std::size_t n, std::chrono::steady_clock::duration wait) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(socket_.get_executor(), wait);
    std::string out(n, '\0');
    std::error_code ec;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    for (int round = 0; !ec && round < 1000; ++round) {
      auto r = co_await (socket_.async_wait(socket_type::wait_read, detail::nothrow) || timer.async_wait(detail::nothrow));
      if (r.index() != 0 || std::get<0>(std::get<0>(r))) break;
      auto got = socket_.receive(asio::buffer(out), socket_type::message_peek, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec = {};
        continue;
      }
      if (!ec) {
        out.resize(got);
        co_return out;
      }
    }
    co_return std::string();
  }

  void cancel() noexcept {
    std::error_code ignored;
    socket_.cancel(ignored);
  }

  void close() noexcept {
    std::error_code ignored;
    socket_.shutdown(socket_type::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  // A complete line from the buffer (error::line_too_long for one past the limit, whose
  // bytes are dropped), or nullopt when more bytes are needed. Past the limit without a
  // line end, keeps only what is needed to notice the end of the line.
  std::optional<std::string> take_line(std::error_code& ec) {
    constexpr std::size_t max = COFTP_MAX_LINE_LENGTH;
    auto nl = buffer_.find('\n', scanned_);
    if (nl != std::string::npos) {
      bool too_long = discarding_ || nl + 1 > max;
      std::string line = too_long ? std::string() : buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      scanned_ = 0;
      discarding_ = false;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (too_long) ec = make_error_code(error::line_too_long);
      return line;
    }
    if (buffer_.size() >= max) {
      buffer_.clear();
      discarding_ = true;
    }
    scanned_ = buffer_.size();
    return std::nullopt;
  }

  // Reads what the socket has now, without waiting, into a stack buffer and appends it
  // to buffer_ (within the line limit). False with no error when nothing is there yet;
  // false with the error (eof included) when the connection is over.
  bool read_available(std::error_code& ec) {
    char chunk[1024];
    std::size_t want = std::min(sizeof chunk, COFTP_MAX_LINE_LENGTH - buffer_.size());
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    if (ec) return false;
    std::size_t n = socket_.read_some(asio::buffer(chunk, want), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      return false;
    }
    if (ec) return false;
    buffer_.append(chunk, n);
    return true;
  }

#if COFTP_HAS_TLS
  // Reads some TLS bytes into buffer_: OpenSSL may hold decrypted bytes the socket no
  // longer shows, so TLS reads go through the stream with the buffer resized ahead.
  asio::awaitable<std::error_code> read_tls() {
    constexpr std::size_t max = COFTP_MAX_LINE_LENGTH;
    std::size_t old = buffer_.size();
    std::size_t want = buffer_.capacity() - old >= 256 ? buffer_.capacity() - old : 512;
    if (want > max - old) want = max - old;
    buffer_.resize(old + want);
    std::error_code ec;
    std::size_t n = 0;
    try {
      std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buffer_.data() + old, want), detail::nothrow);
    } catch (...) {
      // A cancelled coroutine's next co_await throws (Asio 1.22): never leave the
      // unread tail of the resize behind as if it were data.
      buffer_.resize(old);
      throw;
    }
    buffer_.resize(old + n);
    co_return ec;
  }
#endif

  socket_type socket_;
#if COFTP_HAS_TLS
  std::unique_ptr<tls_stream> tls_;
#endif
  std::string buffer_;
  std::size_t scanned_ = 0;   // bytes of buffer_ known to hold no '\n'
  bool discarding_ = false;   // inside an over-long line
};

}  // namespace coftp
