// coftp/detail/proxy_io.hpp - reading a PROXY protocol header off a socket (the
// parser is coftp/proxy_protocol.hpp).
#pragma once

#include <coftp/detail/io.hpp>
#include <coftp/proxy_protocol.hpp>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>

#include <array>
#include <chrono>
#include <string>
#include <system_error>
#include <utility>

namespace coftp::detail {

// g++ 12 at -O2 inlines Asio's frame allocator (aligned_new) and deallocator into this
// coroutine and then takes them for a mismatched pair (a false -Wmismatched-new-delete,
// GCC PR 109224), as in commands/listing.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

/// Reads the PROXY header a relayed connection starts with, before `deadline`.
/// Consumes exactly the header's bytes: what follows (commands, a TLS ClientHello)
/// stays in the socket. Bytes are peeked first and taken only as far as the header
/// goes, so a header cut in several TCP segments is waited for, within the deadline.
/// Errors: `timed_out`, `eof`, or `std::errc::protocol_error` for bytes that are no
/// header (or one longer than the limits of proxy_protocol.hpp).
///
/// @par Cancellation
/// Closing or cancelling the socket completes it with an error.
inline asio::awaitable<std::pair<std::error_code, proxy_header>> read_proxy_header(
    asio::ip::tcp::socket& sock, std::chrono::steady_clock::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  constexpr std::size_t max = proxy_v2_max_length > proxy_v1_max_length ? proxy_v2_max_length : proxy_v1_max_length;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  std::string got;  // header bytes taken so far (all of an incomplete header)
  std::array<char, max> buf;
  // The peek below must not block: a readiness with no bytes there waits again (see
  // control_stream::peek).
  if (std::error_code nec; !sock.non_blocking()) {
    sock.non_blocking(true, nec);
    if (nec) co_return std::pair{nec, proxy_header{}};
  }
  // Each round takes at least one byte (at most `max` rounds), or finds none and waits
  // again within the deadline.
  while (got.size() < max) {
    auto r = co_await (sock.async_wait(asio::ip::tcp::socket::wait_read, nothrow) || timer.async_wait(nothrow));
    if (r.index() == 1) co_return std::pair{std::error_code(asio::error::timed_out), proxy_header{}};
    if (auto [wec] = std::get<0>(r); wec) co_return std::pair{wec, proxy_header{}};
    std::error_code ec;
    std::size_t n = sock.receive(asio::buffer(buf.data(), max - got.size()), asio::socket_base::message_peek, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (!ec && n == 0) ec = asio::error::eof;
    if (ec) co_return std::pair{ec, proxy_header{}};
    std::string seen = got;
    seen.append(buf.data(), n);
    auto p = parse_proxy_header(seen);
    if (p.status == proxy_parse_status::invalid)
      co_return std::pair{std::make_error_code(std::errc::protocol_error), proxy_header{}};
    std::size_t take = p.status == proxy_parse_status::complete ? p.length - got.size() : n;
    // Peeked, so there: a plain read returns them at once.
    std::size_t taken = asio::read(sock, asio::buffer(buf.data(), take), ec);
    if (ec) co_return std::pair{ec, proxy_header{}};
    got.append(buf.data(), taken);
    if (p.status == proxy_parse_status::complete) co_return std::pair{std::error_code{}, p.header};
  }
  co_return std::pair{std::make_error_code(std::errc::protocol_error), proxy_header{}};
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace coftp::detail
