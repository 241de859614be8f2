// coftp/control_stream.hpp - the control connection (RFC 959 section 2.3): reading
// command lines and writing replies.
//
// Handlers never touch the socket: they talk to the session, which talks to this
// stream. That is what lets a later AUTH TLS (RFC 4217) upgrade the connection in
// place without changing a single handler.
#pragma once

#include <coftp/config.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/error.hpp>
#include <coftp/reply.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <string>
#include <system_error>
#include <tuple>
#include <utility>

namespace coftp {

/// A control connection with its line buffer.
class control_stream {
 public:
  using socket_type = asio::ip::tcp::socket;

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
    constexpr std::size_t max = COFTP_MAX_LINE_LENGTH;
    for (;;) {
      auto nl = buffer_.find('\n', scanned_);
      if (nl != std::string::npos) {
        bool too_long = discarding_ || nl + 1 > max;
        std::string line = too_long ? std::string() : buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        scanned_ = 0;
        discarding_ = false;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (too_long) co_return std::pair{make_error_code(error::line_too_long), std::string()};
        co_return std::pair{std::error_code{}, std::move(line)};
      }
      if (buffer_.size() >= max) {
        // Too long: keep only what is needed to notice the end of the line.
        buffer_.clear();
        discarding_ = true;
      }
      scanned_ = buffer_.size();
      std::size_t old = buffer_.size();
      std::size_t want = buffer_.capacity() - old >= 256 ? buffer_.capacity() - old : 512;
      if (want > max - old) want = max - old;
      buffer_.resize(old + want);
      std::error_code ec;
      std::size_t n = 0;
      try {
        std::tie(ec, n) = co_await socket_.async_read_some(asio::buffer(buffer_.data() + old, want), detail::nothrow);
      } catch (...) {
        // A cancelled coroutine's next co_await throws (Asio 1.22): never leave the
        // unread tail of the resize behind as if it were data.
        buffer_.resize(old);
        throw;
      }
      buffer_.resize(old + n);
      if (ec) co_return std::pair{ec, std::string()};
    }
  }

  /// True if a complete line is already buffered (a pipelined command).
  bool has_buffered_line() const noexcept { return buffer_.find('\n', scanned_) != std::string::npos; }

  /// Writes a reply.
  asio::awaitable<std::error_code> write(const reply& r) {
    out_.clear();
    format_reply(out_, r);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), detail::nothrow);
    (void)n;
    if (out_.capacity() > 4096) std::string().swap(out_);
    co_return ec;
  }

  /// Releases memory held by the line buffer while the session is idle.
  void shrink() {
    if (buffer_.empty() && buffer_.capacity() > 512) std::string().swap(buffer_);
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
  socket_type socket_;
  std::string buffer_;
  std::string out_;
  std::size_t scanned_ = 0;   // bytes of buffer_ known to hold no '\n'
  bool discarding_ = false;   // inside an over-long line
};

}  // namespace coftp
