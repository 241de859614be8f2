// coftp/tls.hpp - FTPS (RFC 4217) building blocks: the server's TLS context and the
// binding that ties a data connection's TLS session to its control connection's.
//
// Only with COFTP_HAS_TLS (OpenSSL through asio::ssl); without it this header declares
// nothing, and the rest of coftp builds and runs without TLS.
//
// Why the binding: a PROT P data connection is accepted from the control connection's
// peer address only, but anyone on that address (another user of a NAT, a shared host)
// could connect first and do a handshake of their own. As vsftpd's require_ssl_reuse,
// coftp demands that the data connection *resume* the control connection's TLS session,
// which only the holder of that session can do. Each control connection gets a random
// TLS session id context; OpenSSL resumes a session (TLS 1.2 id or ticket, TLS 1.3 PSK
// ticket) only on a connection with the same context, so a session of any other control
// connection is never resumed, and a full handshake is refused.
#pragma once

#include <coftp/config.hpp>
#include <coftp/options.hpp>

#if COFTP_HAS_TLS

#include <asio/awaitable.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <coftp/detail/io.hpp>

#include <array>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>

namespace coftp {

/// Builds the server's TLS context from `o`: the certificate chain and key, TLS 1.2 at
/// least, a server-side session cache and tickets (so data connections can resume), and
/// buffers released while a connection is idle.
///
/// Throws std::system_error (or std::runtime_error) when a file cannot be read or the
/// key does not match the certificate: a setup error, reported before serving.
inline asio::ssl::context make_tls_context(const tls_options& o) {
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  ctx.use_certificate_chain_file(o.certificate_file);
  ctx.use_private_key_file(o.private_key_file.empty() ? o.certificate_file : o.private_key_file,
                           asio::ssl::context::pem);
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error("TLS: the private key does not match the certificate " + o.certificate_file);
  return ctx;
}

namespace detail {

/// The random TLS session id context of one control connection; its data connections
/// carry the same one.
class tls_binding {
 public:
  tls_binding() {
    if (RAND_bytes(id_.data(), static_cast<int>(id_.size())) != 1)
      throw std::runtime_error("TLS: no randomness for the session id context");
  }
  /// Sets the context on a connection before its handshake.
  void apply(SSL* ssl) const { SSL_set_session_id_context(ssl, id_.data(), static_cast<unsigned>(id_.size())); }

 private:
  std::array<unsigned char, SSL_MAX_SID_CTX_LENGTH> id_{};
};

/// True if `ssl`'s handshake resumed a session (necessarily one of the same binding).
inline bool tls_resumed(SSL* ssl) noexcept { return SSL_session_reused(ssl) == 1; }

/// True for the end of a TLS stream without close_notify (a peer that just closed TCP).
inline bool tls_truncated(const std::error_code& ec) noexcept { return ec == asio::ssl::error::stream_truncated; }

/// The server side of a TLS handshake on `stream`, bounded by `timeout`.
template <class Stream>
asio::awaitable<std::error_code> tls_handshake(Stream& stream, std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(stream.get_executor(), timeout);
  auto r = co_await (stream.async_handshake(asio::ssl::stream_base::server, nothrow) || timer.async_wait(nothrow));
  if (r.index() == 1) co_return std::error_code(asio::error::timed_out);
  co_return std::get<0>(std::get<0>(r));
}

/// Sends close_notify and waits for the peer's at most `timeout`: many clients (curl)
/// close without one, and a shutdown must never hang on them.
template <class Stream>
asio::awaitable<void> tls_shutdown(Stream& stream, std::chrono::steady_clock::duration timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(stream.get_executor(), timeout);
  co_await (stream.async_shutdown(nothrow) || timer.async_wait(nothrow));
}

}  // namespace detail
}  // namespace coftp

#endif  // COFTP_HAS_TLS
