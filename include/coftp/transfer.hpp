// coftp/transfer.hpp - the transfer engine: moves one file or one listing over a data
// connection (RFC 959 3.2-3.4: stream mode, TYPE A or I) and says how it ended.
//
// A transfer opens the data connection (accepts or connects, as PASV/EPSV or PORT/EPRT
// left it), sends the 150, does the TLS handshake under PROT P, then runs a body: a
// reader sent, a writer filled and committed, or a listing generated. Every write and
// read has the data timeout, the bandwidth limit paces it, and the control connection is
// watched all along (an ABOR cuts the transfer). The engine returns a typed
// `transfer_result`, never a reply: `reply_for(result)` (reply_table.hpp) words it.
//
// The zero-copy paths (sendfile, splice) are in detail/zero_copy.hpp; the engine takes
// them for a reader or writer whose `native_handle()` is a descriptor (>= 0) when
// neither TYPE A nor TLS has to touch the bytes. Such a writer's `write()` is then
// never called: splice writes to its descriptor directly, and only `commit()` follows.
#pragma once

#include <coftp/config.hpp>
#include <coftp/data_channel.hpp>
#include <coftp/detail/ascii.hpp>
#include <coftp/detail/io.hpp>
#include <coftp/detail/zero_copy.hpp>
#include <coftp/error.hpp>
#include <coftp/options.hpp>
#include <coftp/outcome.hpp>
#include <coftp/reply.hpp>
#include <coftp/throttle.hpp>

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace coftp {

/// How the session's data connections are made, asked for at each transfer.
struct data_terms {
  asio::ip::address peer;              ///< the only address a data connection may come from or go to
  data_channel::proxy_filter relayed;  ///< data connections through a trusted PROXY-protocol proxy
  bool refuse_clear = false;           ///< TLS is required and PROT P was not sent: 521
#if COFTP_HAS_TLS
  asio::ssl::context* tls = nullptr;              ///< PROT P: TLS with this context; null: clear data
  const detail::tls_binding* binding = nullptr;  ///< the control connection's TLS session binding
  std::function<void(std::error_code)> on_handshake;  ///< told each PROT P handshake's result (the observer)
#endif
};

/// What the engine needs of the session that runs it.
template <class C>
concept transfer_control = requires(C& c, reply r) {
  /// Sends the 150 once the data connection is up.
  { c.write_reply(std::move(r)) } -> std::same_as<asio::awaitable<void>>;
  /// Reads the control connection while the transfer runs; returns only when the
  /// transfer must be cut: `aborted` (ABOR) or `connection_lost` (the client left).
  { c.watch_control() } -> std::same_as<asio::awaitable<transfer_outcome>>;
  /// True when the client closed or reset its control connection (an upload's end
  /// without its client is no end of file).
  { c.client_left() } -> std::convertible_to<bool>;
  /// True while the server stops (a cut transfer says so in its reply).
  { c.stopping() } -> std::convertible_to<bool>;
  { c.data_terms() } -> std::same_as<data_terms>;
};

/// One transfer's settings, from the session.
struct transfer_request {
  transfer_direction direction = transfer_direction::download;
  std::string_view path;  ///< as the user sees it (STAT, the observer)
  reply preliminary;      ///< the 150, sent once the data connection is up
  bool ascii = false;     ///< TYPE A: line endings converted
  transfer_throttle throttle{};
  std::uint64_t total = 0;  ///< the bytes expected, when known (STAT)
};

/// A session's transfer engine: its data channel, and the transfer running on it.
class transfer_engine {
 public:
  using tcp = asio::ip::tcp;

  transfer_engine(const asio::any_io_executor& ex, const server_options& options)
      : ex_(ex), options_(options), data_(ex) {}

  /// Where the next data connection comes from: PASV/EPSV listen, PORT/EPRT connect.
  data_channel& channel() noexcept { return data_; }
  const data_channel& channel() const noexcept { return data_; }

  /// The transfer under way (`active`), or the last one.
  const transfer_progress& progress() const noexcept { return progress_; }
  /// True while a transfer runs and its 150 is out: a STAT reply may follow it.
  bool reporting() const noexcept { return progress_.active && preliminary_sent_; }

  /// Closes the data channel and the running transfer's connection (the server stops).
  void cut() noexcept {
    data_.close();
    if (active_) active_->close();
  }

  /// Sends the content of `reader` (RETR), converting line endings under TYPE A.
  template <transfer_control Control, class Reader>
  asio::awaitable<transfer_result> send(Control& c, const transfer_request& req, Reader& reader) {
    auto r = co_await watched(c, req, send_body(c, req, reader));
    co_return r;
  }

  /// Receives the data connection's bytes into `writer` and commits it (STOR, APPE,
  /// STOU) when the transfer completed with its client still there.
  template <transfer_control Control, class Writer>
  asio::awaitable<transfer_result> receive(Control& c, const transfer_request& req, Writer& writer) {
    auto r = co_await watched(c, req, receive_body(c, req, writer));
    co_return r;
  }

  /// Sends what `source` produces (a listing, in network form), a chunk at a time:
  /// `co_await source.next(chunk)` appends the next part to `chunk` (empty before each
  /// call) and leaves it empty at the end.
  template <transfer_control Control, class Source>
  asio::awaitable<transfer_result> send_generated(Control& c, const transfer_request& req, Source& source) {
    auto r = co_await watched(c, req, generated_body(c, req, source));
    co_return r;
  }

 private:
  // Runs a body while the control connection is watched.
  template <class Control>
  asio::awaitable<transfer_result> watched(Control& c, const transfer_request& req,
                                           asio::awaitable<transfer_result> body) {
    using namespace asio::experimental::awaitable_operators;
    progress_ = {true, req.direction, std::string(req.path), 0, req.total};
    preliminary_sent_ = false;
    transfer_result result;
    try {
      auto r = co_await (never_throws(std::move(body)) || c.watch_control());
      if (r.index() == 0) result = std::get<0>(std::move(r));
      else result = {std::get<1>(r), progress_.bytes, {}};
    } catch (const std::exception&) {
      // Asio 1.22's || can rethrow the cancelled branch's operation_aborted.
      result = {transfer_outcome::aborted, progress_.bytes, {}};
    }
    progress_.active = false;
    preliminary_sent_ = false;
    if (c.stopping() && !result.ok()) result.cause = error::shutting_down;
    co_return result;
  }

  // In 1.22, `a || b` cancels b only once a *succeeds*: a body that threw (bad_alloc,
  // a backend's exception) would leave the session waiting on the control connection.
  static asio::awaitable<transfer_result> never_throws(asio::awaitable<transfer_result> body) {
    try {
      auto r = co_await std::move(body);
      co_return r;
    } catch (const std::exception&) {
      co_return transfer_result{transfer_outcome::storage_error, 0, make_error_code(storage_errc::io_error)};
    }
  }

  // Points active_ (for cut) at a transfer's connection while it lives.
  struct active_guard {
    data_connection*& slot;
    active_guard(data_connection*& s, data_connection& conn) : slot(s) { slot = &conn; }
    ~active_guard() { slot = nullptr; }
  };

  // Opens the data connection (accepts or connects), sends the 150 reply and, under
  // PROT P, does the TLS handshake: the client starts it once it has the 150 (RFC 4217
  // 9; ftplib and curl wait for it). A handshake that does not resume the control
  // connection's session is refused before a byte of the file moves.
  template <class Control>
  asio::awaitable<std::pair<transfer_result, data_connection>> open(Control& c, const reply& preliminary) {
    auto terms = c.data_terms();
    if (terms.refuse_clear)
      co_return std::pair{failed(transfer_outcome::connection_lost, error::data_not_protected),
                          data_connection(tcp::socket(ex_))};
    auto [aec, sock] = co_await data_.open(terms.peer, options_.data_timeout, std::move(terms.relayed));
    data_connection conn(std::move(sock));
    if (aec) co_return std::pair{failed(transfer_outcome::timed_out, error::no_data_connection), std::move(conn)};
    co_await c.write_reply(preliminary);
    preliminary_sent_ = true;
#if COFTP_HAS_TLS
    if (terms.tls) {
      const auto& t = options_.tls;
      auto hec = co_await conn.start_tls(*terms.tls, *terms.binding, t.handshake_timeout, t.require_session_reuse);
      if (terms.on_handshake) terms.on_handshake(hec);
      if (hec) {
        conn.close();
        auto why = hec == error::tls_not_resumed ? error::tls_not_resumed : error::data_tls_failed;
        co_return std::pair{failed(transfer_outcome::connection_lost, why), std::move(conn)};
      }
    }
#endif
    co_return std::pair{transfer_result{}, std::move(conn)};
  }

  static transfer_result failed(transfer_outcome o, error why) { return {o, 0, make_error_code(why)}; }
  static transfer_result store_failed(std::error_code ec, std::uint64_t bytes) {
    return {transfer_outcome::storage_error, bytes, ec};
  }

  // Writes all of `buf` within the data timeout, which applies to each partial write:
  // a slow client that keeps receiving is never taken for a stalled one.
  asio::awaitable<std::error_code> write_all(data_connection& conn, detail::deadline& dl, asio::const_buffer buf) {
    while (buf.size() > 0) {
      dl.arm(options_.data_timeout, conn.socket());
      auto [ec, n] = co_await conn.write_some(buf);
      dl.disarm();
      if (ec) co_return ec;
      buf += n;
    }
    co_return std::error_code{};
  }

  // Ends a complete transfer's connection (TLS close_notify first, bounded).
  asio::awaitable<void> finish(data_connection& conn) { co_await conn.finish(options_.tls.shutdown_timeout); }

  template <class Control, class Reader>
  asio::awaitable<transfer_result> send_body(Control& c, const transfer_request& req, Reader& reader) {
    auto [opened, conn] = co_await open(c, req.preliminary);
    if (!opened.ok()) co_return opened;
    active_guard active(active_, conn);
    detail::deadline dl(ex_);
    auto throttle = req.throttle;
    if constexpr (requires { reader.position(); }) {
      if (!req.ascii && !conn.secure() && reader.native_handle() >= 0) {
        detail::transfer_pace p{dl, options_.data_timeout, throttle, progress_.bytes};
        auto r = co_await detail::send_file_zero_copy(conn.socket(), p, reader.native_handle(), reader.position());
        if (r.ok()) co_await finish(conn);
        co_return r;
      }
    }
    const std::size_t chunk = throttle.chunk(COFTP_TRANSFER_CHUNK);
    std::unique_ptr<char[]> buf(new char[chunk]);
    std::string converted;
    detail::ascii_encoder encoder;
    std::uint64_t bytes = 0;
    for (;;) {
      auto [rec, n] = co_await reader.read_some(asio::buffer(buf.get(), chunk));
      if (rec) co_return store_failed(rec, bytes);
      if (n == 0) break;
      if (throttle.limited()) co_await detail::pace(ex_, throttle, n);
      asio::const_buffer out(buf.get(), n);
      if (req.ascii) {
        encoder.convert(std::string_view(buf.get(), n), converted);
        out = asio::buffer(converted);
      }
      auto wec = co_await write_all(conn, dl, out);
      if (wec) co_return detail::broken(dl, bytes);
      bytes += n;
      progress_.bytes = bytes;
    }
    co_await finish(conn);
    co_return transfer_result{transfer_outcome::completed, bytes, {}};
  }

  template <class Control, class Writer>
  asio::awaitable<transfer_result> receive_body(Control& c, const transfer_request& req, Writer& writer) {
    auto [opened, conn] = co_await open(c, req.preliminary);
    if (!opened.ok()) co_return opened;
    active_guard active(active_, conn);
    detail::deadline dl(ex_);
    auto throttle = req.throttle;
    const std::size_t chunk = throttle.chunk(COFTP_TRANSFER_CHUNK);
    if constexpr (requires { writer.native_handle(); }) {
      if (!req.ascii && !conn.secure() && writer.native_handle() >= 0) {
        detail::splice_pipe pipe(COFTP_TRANSFER_CHUNK);
        if (pipe.ok()) {
          detail::transfer_pace p{dl, options_.data_timeout, throttle, progress_.bytes};
          auto r = co_await detail::receive_file_zero_copy(conn.socket(), p, pipe, writer.native_handle());
          if (!r.ok()) co_return r;
          co_await finish(conn);
          r = co_await commit_upload(c, writer, r.bytes);
          co_return r;
        }
      }
    }
    std::unique_ptr<char[]> buf(new char[chunk]);
    std::string converted;
    detail::ascii_decoder decoder;
    std::uint64_t bytes = 0;
    for (;;) {
      dl.arm(options_.data_timeout, conn.socket());
      auto [ec, n] = co_await conn.read_some(asio::buffer(buf.get(), chunk));
      dl.disarm();
      if (ec == asio::error::eof) break;
#if COFTP_HAS_TLS
      // TLS ended by a plain TCP close, without close_notify: curl and others end
      // uploads so. Taken as the end of the file unless the operator wants it strict.
      if (detail::tls_truncated(ec) && !options_.tls.require_close_notify) break;
#endif
      if (ec) co_return detail::broken(dl, bytes);
      bytes += n;
      progress_.bytes = bytes;
      asio::const_buffer in(buf.get(), n);
      if (req.ascii) {
        decoder.convert(std::string_view(buf.get(), n), converted);
        in = asio::buffer(converted);
      }
      auto wec = co_await writer.write(in);
      if (wec) co_return store_failed(wec, bytes);
      // Waiting before the next read lets TCP's flow control slow the client down.
      if (throttle.limited()) co_await detail::pace(ex_, throttle, n);
    }
    if (req.ascii) {
      decoder.finish(converted);
      if (!converted.empty()) {
        auto wec = co_await writer.write(asio::buffer(converted));
        if (wec) co_return store_failed(wec, bytes);
      }
    }
    co_await finish(conn);
    auto r = co_await commit_upload(c, writer, bytes);
    co_return r;
  }

  // The end of an upload. In stream mode the data connection's orderly close is the end
  // of the file only while the client is still there: a client killed mid-STOR has its
  // connections closed by its kernel, with FIN, which looks the same. Its control
  // connection tells: closed (or reset) without a QUIT, the client is gone, and the
  // upload is dropped (the old file stays) rather than committed truncated. A client
  // that closes the data connection early on purpose and stays cannot be told apart.
  // The control connection's end follows the data connection's by microseconds on one
  // host, by the path's jitter across a network: server_options::upload_end_wait. The
  // wait ends early when watch_control reads that end (it cancels this body).
  template <class Control, class Writer>
  asio::awaitable<transfer_result> commit_upload(Control& c, Writer& writer, std::uint64_t bytes) {
    const auto wait = options_.upload_end_wait;
    if (!c.client_left() && wait.count() > 0) {
      asio::steady_timer settle(ex_, wait);
      co_await settle.async_wait(detail::nothrow);
    }
    if (c.client_left()) co_return transfer_result{transfer_outcome::connection_lost, bytes, {}};
    auto cec = co_await writer.commit();
    if (cec) co_return store_failed(cec, bytes);
    co_return transfer_result{transfer_outcome::completed, bytes, {}};
  }

  template <class Control, class Source>
  asio::awaitable<transfer_result> generated_body(Control& c, const transfer_request& req, Source& source) {
    auto [opened, conn] = co_await open(c, req.preliminary);
    if (!opened.ok()) co_return opened;
    active_guard active(active_, conn);
    detail::deadline dl(ex_);
    std::string chunk;
    std::uint64_t bytes = 0;
    for (;;) {
      chunk.clear();
      auto ec = co_await source.next(chunk);
      if (ec) co_return store_failed(ec, bytes);
      if (chunk.empty()) break;
      auto wec = co_await write_all(conn, dl, asio::buffer(chunk));
      if (wec) co_return detail::broken(dl, bytes);
      bytes += chunk.size();
      progress_.bytes = bytes;
    }
    co_await finish(conn);
    co_return transfer_result{transfer_outcome::completed, bytes, {}};
  }

  asio::any_io_executor ex_;
  const server_options& options_;
  data_channel data_;
  transfer_progress progress_;
  bool preliminary_sent_ = false;       // the running transfer's 150 is out
  data_connection* active_ = nullptr;  // the running transfer's connection
};

}  // namespace coftp
