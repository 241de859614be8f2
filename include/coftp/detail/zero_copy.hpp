// coftp/detail/zero_copy.hpp - the transfer engine's zero-copy paths (Linux): a file
// sent with sendfile(2), an upload received with splice(2) through a pipe. The data never
// passes through user space; the engine (coftp/transfer.hpp) takes them when the backend
// hands out a descriptor and neither TYPE A nor TLS has to touch the bytes.
//
// Both make the socket non-blocking, wait for it within the data timeout on EAGAIN, and
// yield after every chunk, so that an ABOR (read on the same strand) and the other
// sessions of the thread get their turn during a fast transfer.
#pragma once

#include <coftp/config.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/outcome.hpp>
#include <coftp/throttle.hpp>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <fcntl.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <system_error>

namespace coftp::detail {

/// What a transfer body runs with: its data connection's deadline and timeout, its
/// bandwidth limit, and the counter STAT reads.
struct transfer_pace {
  deadline& dl;
  std::chrono::steady_clock::duration timeout;
  transfer_throttle& throttle;
  std::uint64_t& progress;  ///< bytes moved so far
};

/// Takes `bytes` from the throttle's buckets and waits while they are in debt. The wait
/// is an ordinary timer: an ABOR cancels it with the transfer.
inline asio::awaitable<void> pace(const asio::any_io_executor& ex, transfer_throttle& throttle, std::uint64_t bytes) {
  auto wait = throttle.take(bytes);
  if (wait <= wait.zero()) co_return;
  asio::steady_timer timer(ex, wait);
  co_await timer.async_wait(nothrow);
}

/// The result of a data connection that failed: stalled past its deadline or broken.
inline transfer_result broken(const deadline& dl, std::uint64_t bytes) {
  return {dl.expired() ? transfer_outcome::timed_out : transfer_outcome::connection_lost, bytes, {}};
}

// Waits, within the data timeout, until the socket can be written or read again (after
// EAGAIN). False when it broke or stalled.
inline asio::awaitable<bool> wait_ready(asio::ip::tcp::socket& sock, transfer_pace& p,
                                        asio::ip::tcp::socket::wait_type what) {
  p.dl.arm(p.timeout, sock);
  auto [ec] = co_await sock.async_wait(what, nothrow);
  p.dl.disarm();
  co_return !ec;
}

/// sendfile(2) from `fd` at `offset` to the end of the file.
inline asio::awaitable<transfer_result> send_file_zero_copy(asio::ip::tcp::socket& sock, transfer_pace p, int fd,
                                                            std::uint64_t offset) {
  std::error_code ec;
  sock.native_non_blocking(true, ec);
  if (ec) co_return transfer_result{transfer_outcome::connection_lost, 0, {}};
  auto off = static_cast<off_t>(offset);
  const std::size_t chunk = p.throttle.chunk(COFTP_TRANSFER_CHUNK);
  std::uint64_t bytes = 0;
  std::uint64_t since_yield = 0;
  for (;;) {
    ssize_t n = sendfile_nosignal(sock.native_handle(), fd, &off, chunk);
    if (n > 0) {
      bytes += static_cast<std::uint64_t>(n);
      p.progress = bytes;
      if (p.throttle.limited()) co_await pace(sock.get_executor(), p.throttle, static_cast<std::uint64_t>(n));
      since_yield += static_cast<std::uint64_t>(n);
      if (since_yield >= COFTP_TRANSFER_CHUNK) {
        since_yield = 0;
        co_await asio::post(sock.get_executor(), asio::use_awaitable);
      }
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      since_yield = 0;
      bool ready = co_await wait_ready(sock, p, asio::ip::tcp::socket::wait_write);
      if (!ready) co_return broken(p.dl, bytes);
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
      co_return transfer_result{transfer_outcome::connection_lost, bytes, {}};
    co_return transfer_result{transfer_outcome::storage_error, bytes, std::error_code(errno, std::system_category())};
  }
  co_return transfer_result{transfer_outcome::completed, bytes, {}};
}

/// splice(2) from the socket into `pipe`, and from the pipe into the file `fd` at its
/// current position, until the client closes the data connection (the end of the file).
inline asio::awaitable<transfer_result> receive_file_zero_copy(asio::ip::tcp::socket& sock, transfer_pace p,
                                                               splice_pipe& pipe, int fd) {
  std::error_code ec;
  sock.native_non_blocking(true, ec);
  if (ec) co_return transfer_result{transfer_outcome::connection_lost, 0, {}};
  const std::size_t chunk = p.throttle.chunk(COFTP_TRANSFER_CHUNK);
  std::uint64_t bytes = 0;
  std::uint64_t since_yield = 0;
  for (;;) {
    ssize_t n = ::splice(sock.native_handle(), nullptr, pipe.write_end(), nullptr, chunk,
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) break;  // the client closed: the end of the file
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        since_yield = 0;
        bool ready = co_await wait_ready(sock, p, asio::ip::tcp::socket::wait_read);
        if (!ready) co_return broken(p.dl, bytes);
        continue;
      }
      co_return transfer_result{transfer_outcome::connection_lost, bytes, {}};
    }
    // Everything the pipe holds goes to the file before the socket is read again.
    for (auto left = static_cast<std::size_t>(n); left > 0;) {
      ssize_t m = ::splice(pipe.read_end(), nullptr, fd, nullptr, left, SPLICE_F_MOVE);
      if (m < 0 && errno == EINTR) continue;
      if (m <= 0)
        co_return transfer_result{transfer_outcome::storage_error, bytes,
                                  std::error_code(m < 0 ? errno : EIO, std::system_category())};
      left -= static_cast<std::size_t>(m);
    }
    bytes += static_cast<std::uint64_t>(n);
    p.progress = bytes;
    if (p.throttle.limited()) {
      co_await pace(sock.get_executor(), p.throttle, static_cast<std::uint64_t>(n));
    } else if ((since_yield += static_cast<std::uint64_t>(n)) >= COFTP_TRANSFER_CHUNK) {
      since_yield = 0;
      co_await asio::post(sock.get_executor(), asio::use_awaitable);
    }
  }
  co_return transfer_result{transfer_outcome::completed, bytes, {}};
}

}  // namespace coftp::detail
