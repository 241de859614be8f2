// coftp/storage/s3.hpp - s3_storage: files in an S3 bucket (AWS S3, Ceph RGW, MinIO...),
// so that several coftp nodes serve one shared, replicated store.
//
// Needs libcurl and OpenSSL's libcrypto (meson option `s3`). HTTP goes through libcurl's
// multi-socket interface on the caller's io_context (s3/curl_multi.hpp): no thread
// blocks per request, and the sessions of one io_context share one bounded pool of
// keep-alive connections. Requests are signed with AWS Signature Version 4 by coftp
// itself (s3/protocol.hpp); addressing is path-style (ENDPOINT/BUCKET/KEY).
//
// How a file tree maps onto keys:
// - a virtual path "/a/b.txt" is the key PREFIX + "a/b.txt";
// - a directory is a common prefix "a/": it exists while any key starts with it. MKD
//   writes an empty marker object "a/" so that an empty directory exists too;
// - listings are ListObjectsV2 pages with delimiter "/", one page per `directory::read`
//   (continuation tokens), so a directory of a million keys is never held whole;
// - SIZE, MDTM and the checks before each operation are HEAD requests;
// - RETR is one streamed GET (with Range after REST), paused while the FTP client is
//   slower than the store, so it holds at most 512 KiB however large the object;
// - STOR is a multipart upload: parts of `part_size` bytes go up while the client still
//   sends, at most `parts_in_flight` at once, so an uploading session holds at most
//   (parts_in_flight + 1) x part_size bytes (24 MiB with the defaults). The upload is
//   completed only after the last byte and aborted when the transfer breaks: a partial
//   upload never becomes visible and the previous object stays as it was. An upload
//   smaller than one part is a single PUT. APPE and REST+STOR keep the old object's
//   bytes with UploadPartCopy (or, below `copy_threshold`, by reading them at open);
// - RNFR/RNTO of a file is a server-side copy and a delete: NOT atomic (a crash between
//   the two leaves both). A directory is renamed key by key when it holds at most
//   `max_rename_keys` keys, else refused (`too_many_entries`, 550);
// - the store has no permission bits (mode 0), no settable modification time (no MFMT)
//   and no inode numbers (no MLSx unique fact); directories from listings have no
//   modification time.
//
// Store faults: a request that fails in transport or with a 5xx/429 answer is retried
// `retries` times with doubling delays when it is idempotent (all but
// CompleteMultipartUpload); then the operation fails with the error, which the server
// answers with 451 (or 426 during a transfer). Nothing is cached, so the next command
// works as soon as the store is back.
#pragma once

#include <coftp/storage/s3/curl_multi.hpp>
#include <coftp/storage/s3/protocol.hpp>
#include <coftp/error.hpp>
#include <coftp/storage.hpp>

#include <asio/awaitable.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coftp {

using s3_credentials = detail::s3::credentials;

/// Settings of an s3_storage.
struct s3_options {
  std::string endpoint;               ///< "http://127.0.0.1:7480" or "https://s3.eu-west-1.amazonaws.com"
  std::string bucket;                 ///< the bucket (path-style addressing)
  std::string prefix{};               ///< key prefix of the tree ("site1/"); "" for the whole bucket
  std::string region = "us-east-1";   ///< SigV4 region
  s3_credentials credentials{};       ///< see s3_credentials_from_env / _from_file
  std::size_t part_size = 8u << 20;   ///< multipart upload part (S3: at least 5 MiB)
  std::size_t parts_in_flight = 2;    ///< parts of one upload sent at once
  std::size_t copy_threshold = 5u << 20;  ///< kept bytes (APPE, REST) from this size are copied in the store
  std::size_t max_rename_keys = 1000;     ///< keys a directory rename moves at most
  unsigned retries = 3;                   ///< more attempts of a failed idempotent request
  std::chrono::milliseconds retry_delay{100};  ///< before the first retry, doubled after each
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};  ///< a whole request (not streams)
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

/// Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
inline std::optional<s3_credentials> s3_credentials_from_env() {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id == nullptr || secret == nullptr || *id == '\0' || *secret == '\0') return std::nullopt;
  const char* token = std::getenv("AWS_SESSION_TOKEN");
  return s3_credentials{id, secret, token ? token : ""};
}

/// Credentials from a file in the AWS shared-credentials format (~/.aws/credentials):
/// `aws_access_key_id = ...` and `aws_secret_access_key = ...` lines (and optionally
/// `aws_session_token`) in section `[profile]`, or before any section.
inline std::optional<s3_credentials> s3_credentials_from_file(const std::string& file,
                                                              std::string_view profile = "default") {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  s3_credentials c;
  std::string line;
  bool ours = true;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  };
  while (std::getline(in, line)) {
    auto l = trim(line);
    if (l.empty() || l.front() == '#' || l.front() == ';') continue;
    if (l.front() == '[') {
      ours = l == "[" + std::string(profile) + "]";
      continue;
    }
    auto eq = l.find('=');
    if (!ours || eq == std::string_view::npos) continue;
    auto key = trim(l.substr(0, eq)), value = trim(l.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key = value;
    else if (key == "aws_secret_access_key") c.secret_key = value;
    else if (key == "aws_session_token") c.session_token = value;
  }
  if (c.access_key.empty() || c.secret_key.empty()) return std::nullopt;
  return c;
}

/// The HTTP requests an s3_storage sent (each attempt, retries included; cancelled
/// ones not), by how they ended; thread-safe. Rendered by coftp/metrics.hpp's
/// `s3_request_metrics`.
struct s3_request_stats {
  std::atomic<std::uint64_t> ok{0};               ///< answered 1xx-3xx
  std::atomic<std::uint64_t> client_error{0};     ///< answered 4xx (a HEAD's 404 for a missing key is one)
  std::atomic<std::uint64_t> server_error{0};     ///< answered 5xx
  std::atomic<std::uint64_t> transport_error{0};  ///< no answer: connection refused or broken, timeout
  std::atomic<std::uint64_t> retries{0};          ///< attempts after a failed one

  void count(std::error_code transport, long status) noexcept {
    if (transport) ++transport_error;
    else if (status >= 500) ++server_error;
    else if (status >= 400) ++client_error;
    else ++ok;
  }
};

/// A storage backend over an S3 bucket (see the top of this header). Copies share
/// their settings; each io_context that uses it gets its own connection pool.
class s3_storage {
 public:
  class reader;
  class writer;
  class directory;

  /// Unusable until assigned (for containers); every operation needs the settings.
  s3_storage() = default;

  /// Throws std::invalid_argument for settings that cannot work (no endpoint, bucket
  /// or credentials, parts under 5 MiB when the store is AWS...).
  explicit s3_storage(s3_options o) {
    if (o.endpoint.empty() || o.bucket.empty()) throw std::invalid_argument("s3_storage: endpoint and bucket are required");
    if (o.credentials.access_key.empty() || o.credentials.secret_key.empty())
      throw std::invalid_argument("s3_storage: credentials are required");
    if (o.part_size == 0 || o.parts_in_flight == 0) throw std::invalid_argument("s3_storage: part_size and parts_in_flight must be > 0");
    while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
    auto scheme = o.endpoint.find("://");
    if (scheme == std::string::npos) throw std::invalid_argument("s3_storage: endpoint must be http://host[:port] or https://...");
    while (!o.prefix.empty() && o.prefix.front() == '/') o.prefix.erase(0, 1);
    if (!o.prefix.empty() && o.prefix.back() != '/') o.prefix += '/';
    auto c = std::make_shared<config>();
    c->host = o.endpoint.substr(scheme + 3);
    c->options = std::move(o);
    cfg_ = std::move(c);
  }

  const s3_options& options() const { return cfg_->options; }
  /// The requests sent by this storage and its copies (for metrics); lives as long as
  /// the pointer does.
  std::shared_ptr<const s3_request_stats> request_stats() const { return {cfg_, &cfg_->stats}; }

  // --- the storage_backend operations -----------------------------------------------------

  asio::awaitable<result<file_info>> stat(std::string path) const {
    if (path == "/") co_return result<file_info>(std::error_code(), directory_info(""));
    auto [ec, e] = co_await lookup(key_of(path));
    if (ec) co_return result<file_info>(ec, file_info());
    if (e.kind == entry::file) co_return result<file_info>(std::error_code(), std::move(e.info));
    if (e.kind == entry::directory) co_return result<file_info>(std::error_code(), directory_info(name_of(path)));
    auto mec = co_await missing(path);
    co_return result<file_info>(mec, file_info());
  }

  asio::awaitable<result<directory>> open_directory(std::string path) const;


  asio::awaitable<result<reader>> open_read(std::string path, std::uint64_t offset) const;


  asio::awaitable<result<writer>> open_write(std::string path, write_mode mode, std::uint64_t offset = 0) const;


  asio::awaitable<std::error_code> make_directory(std::string path) const {
    if (path == "/") co_return make_error_code(storage_errc::already_exists);
    if (auto ec = co_await check_parent(path)) co_return ec;
    const std::string key = key_of(path);
    auto [lec, e] = co_await lookup(key);
    if (lec) co_return lec;
    if (e.kind != entry::none) co_return make_error_code(storage_errc::already_exists);
    auto [ec, resp] = co_await send(request{"PUT", key + '/'});
    co_return ec;
  }

  asio::awaitable<std::error_code> remove_directory(std::string path) const {
    if (path == "/") co_return make_error_code(storage_errc::permission_denied);
    const std::string key = key_of(path);
    auto [lec, e] = co_await lookup(key);
    if (lec) co_return lec;
    if (e.kind == entry::file) co_return make_error_code(storage_errc::not_a_directory);
    if (e.kind == entry::none) co_return co_await missing(path);
    auto [ec, page] = co_await list(key + '/', "", 2);
    if (ec) co_return ec;
    bool marker = false, other = !page.prefixes.empty();
    for (auto& o : page.objects) (o.key == key + '/' ? marker : other) = true;
    if (other) co_return make_error_code(storage_errc::not_empty);
    if (!marker) co_return make_error_code(storage_errc::not_found);  // gone meanwhile
    auto [dec, resp] = co_await send(request{"DELETE", key + '/'});
    co_return dec;
  }

  asio::awaitable<std::error_code> remove_file(std::string path) const {
    if (path == "/") co_return make_error_code(storage_errc::is_a_directory);
    const std::string key = key_of(path);
    auto [lec, e] = co_await lookup(key);
    if (lec) co_return lec;
    if (e.kind == entry::directory) co_return make_error_code(storage_errc::is_a_directory);
    if (e.kind == entry::none) co_return co_await missing(path);
    auto [ec, resp] = co_await send(request{"DELETE", key});
    co_return ec;
  }

  asio::awaitable<std::error_code> rename(std::string from, std::string to) const {
    if (from == "/") co_return make_error_code(storage_errc::permission_denied);
    if (to == "/") co_return make_error_code(storage_errc::already_exists);
    auto [fec, source] = co_await stat(from);
    if (fec) co_return fec;
    auto [tec, target] = co_await stat(to);
    if (!tec) co_return make_error_code(storage_errc::already_exists);
    if (tec != storage_errc::not_found) co_return tec;
    if (auto ec = co_await check_parent(to)) co_return ec;
    const std::string fk = key_of(from), tk = key_of(to);
    if (!source.is_directory()) {
      if (auto ec = co_await copy_object(fk, tk)) co_return ec;
      auto [ec, resp] = co_await send(request{"DELETE", fk});
      co_return ec;
    }
    if (to.starts_with(from + '/')) co_return make_error_code(storage_errc::invalid_name);
    // A directory: every key below it, copied then deleted (bounded).
    std::vector<std::string> keys;
    std::string token;
    for (std::size_t pages = 0; pages <= options().max_rename_keys; ++pages) {
      auto [ec, page] = co_await list(fk + '/', token, 1000, /*recursive=*/true);
      if (ec) co_return ec;
      for (auto& o : page.objects) keys.push_back(std::move(o.key));
      if (keys.size() > options().max_rename_keys) co_return make_error_code(storage_errc::too_many_entries);
      if (!page.truncated || page.next_token.empty()) break;
      token = std::move(page.next_token);
    }
    for (auto& k : keys)
      if (auto ec = co_await copy_object(k, tk + k.substr(fk.size()))) co_return ec;
    for (auto& k : keys) {
      auto [ec, resp] = co_await send(request{"DELETE", k});
      if (ec) co_return ec;
    }
    co_return std::error_code();
  }

 private:
  struct config {
    s3_options options;
    std::string host;  ///< host[:port] of the endpoint, as in the Host header
    mutable s3_request_stats stats{};
  };

  /// One request before signing.
  struct request {
    request(std::string m, std::string k) : method(std::move(m)), key(std::move(k)) {}
    std::string method;
    std::string key;  ///< object key; "" for the bucket itself
    std::vector<std::pair<std::string, std::string>> query{};
    std::vector<std::pair<std::string, std::string>> headers{};  ///< lower-case names, all signed
    std::string body{};
    bool streamed = false;
    bool idempotent = true;
    std::string_view payload_hash{};  ///< "" : the body's SHA-256
  };

  std::string key_of(const std::string& path) const { return options().prefix + path.substr(1); }
  std::string dir_key_of(const std::string& path) const {
    return path == "/" ? options().prefix : options().prefix + path.substr(1) + '/';
  }
  static std::string name_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }
  static std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
  }
  static file_info directory_info(std::string name) {
    file_info i;
    i.name = std::move(name);
    i.type = file_type::directory;
    return i;
  }

  /// The signed request for `r`; takes its body (no copy of a part), which a retry
  /// puts back from the transfer.
  detail::http_request sign(request& r) const {
    const auto& o = options();
    const std::string path = '/' + o.bucket + (r.key.empty() ? "" : '/' + detail::s3::uri_encode(r.key, true));
    const std::string body_hash = r.payload_hash.empty() ? detail::s3::sha256_hex(r.body) : std::string(r.payload_hash);
    detail::s3::signing_input in{r.method, cfg_->host, path, r.query, r.headers, body_hash};
    detail::http_request h;
    h.method = r.method;
    h.url = o.endpoint + path;
    if (auto q = detail::s3::canonical_query(r.query); !q.empty()) h.url += '?' + q;
    h.headers = detail::s3::sign(in, o.credentials, o.region, std::chrono::system_clock::now());
    h.body = std::move(r.body);
    h.streamed = r.streamed;
    h.timeout = r.streamed ? std::chrono::milliseconds(0) : o.request_timeout;
    h.connect_timeout = o.connect_timeout;
    return h;
  }

  /// The storage error for an HTTP answer (no error for 2xx).
  static std::error_code status_error(const detail::http_response& r) {
    if (r.status >= 200 && r.status < 300) {
      // CompleteMultipartUpload and CopyObject can answer 200 with an <Error> body.
      if (r.body.find("<Error>") != std::string::npos) return make_error_code(storage_errc::io_error);
      return {};
    }
    auto code = detail::s3::xml_text(r.body, "Code").value_or("");
    if (r.status == 404) return make_error_code(storage_errc::not_found);
    if (r.status == 403) return make_error_code(storage_errc::permission_denied);
    if (r.status == 416) return make_error_code(storage_errc::invalid_offset);
    if (r.status == 507 || code == "QuotaExceeded" || code == "EntityTooLarge")
      return make_error_code(storage_errc::no_space);
    if (code == "KeyTooLongError" || code == "InvalidObjectName") return make_error_code(storage_errc::invalid_name);
    return make_error_code(storage_errc::io_error);
  }

  static bool worth_retrying(std::error_code transport, long status) {
    if (transport) return transport != asio::error::operation_aborted;
    return status >= 500 || status == 429;
  }

  /// Sends `r` and waits for its whole answer; retries idempotent ones. The error is
  /// the transport's or the answer's (status_error).
  asio::awaitable<result<detail::http_response>> send(request r) const {
    using detail::curl_multi_service;
    auto ex = co_await asio::this_coro::executor;
    auto& service = curl_multi_service::of(ex);
    const auto& o = options();
    std::error_code ec;
    for (unsigned attempt = 0;; ++attempt) {
      auto t = service.start(sign(r));
      std::error_code wec;
      co_await curl_multi_service::async_wait(t, detail::http_transfer::until::done, {},
                                              asio::redirect_error(asio::use_awaitable, wec));
      if (wec == asio::error::operation_aborted) {
        curl_multi_service::cancel(t);
        co_return result<detail::http_response>(wec, detail::http_response());
      }
      cfg_->stats.count(wec, t->response.status);
      if (!r.idempotent || attempt >= o.retries || !worth_retrying(wec, t->response.status)) {
        ec = wec ? make_error_code(storage_errc::io_error) : status_error(t->response);
        co_return result<detail::http_response>(ec, std::move(t->response));
      }
      r.body = std::move(t->request.body);
      ++cfg_->stats.retries;
      asio::steady_timer delay(ex, o.retry_delay * (1 << std::min(attempt, 10u)));
      co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, wec));
      if (wec) co_return result<detail::http_response>(wec, detail::http_response());
    }
  }

  /// What a key is: a file (found by HEAD, with its size, date and ETag), else a
  /// directory (a marker or keys below it), else nothing.
  struct entry {
    enum kind_type { none, file, directory };
    entry() = default;
    entry(kind_type k, file_info i, std::string e) : kind(k), info(std::move(i)), etag(std::move(e)) {}
    kind_type kind = none;
    file_info info{};
    std::string etag{};
  };

  asio::awaitable<result<entry>> lookup(std::string key) const {
    auto [ec, resp] = co_await send(request{"HEAD", key});
    if (!ec) {
      file_info i;
      i.name = name_of('/' + key);
      i.type = file_type::regular;
      std::uint64_t size = 0;
      for (char c : resp.header("content-length"))
        if (c >= '0' && c <= '9') size = size * 10 + static_cast<unsigned>(c - '0');
      i.size = size;
      if (auto t = detail::s3::parse_http_date(resp.header("last-modified"))) i.mtime = *t;
      co_return result<entry>(std::error_code(), entry(entry::file, std::move(i), std::string(resp.header("etag"))));
    }
    if (ec != storage_errc::not_found) co_return result<entry>(ec, entry());
    auto [dec, is_dir] = co_await directory_exists(key);
    co_return result<entry>(dec, entry(is_dir ? entry::directory : entry::none, file_info(), std::string()));
  }

  /// One ListObjectsV2 page of keys under `prefix` (by "/" levels unless `recursive`).
  asio::awaitable<result<detail::s3::list_page>> list(std::string prefix, std::string token, std::size_t max_keys,
                                                      bool recursive = false) const {
    request r{"GET", ""};
    r.query = {{"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(max_keys)}, {"encoding-type", "url"}};
    if (!recursive) r.query.emplace_back("delimiter", "/");
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    auto [ec, resp] = co_await send(std::move(r));
    if (ec) co_return result<detail::s3::list_page>(ec, detail::s3::list_page());
    co_return result<detail::s3::list_page>(std::error_code(), detail::s3::parse_list_page(resp.body, true));
  }

  /// Whether `key` + "/" is a directory: a marker or any key below it.
  asio::awaitable<result<bool>> directory_exists(std::string key) const {
    auto [ec, page] = co_await list(key + '/', "", 1);
    co_return result<bool>(ec, !ec && (!page.objects.empty() || !page.prefixes.empty()));
  }

  /// Why `path` is missing: a file among its ancestors (not_a_directory) or not.
  asio::awaitable<std::error_code> missing(std::string path) const {
    for (std::string p = parent_of(path); p != "/"; p = parent_of(p)) {
      auto [ec, e] = co_await lookup(key_of(p));
      if (ec) co_return ec;
      if (e.kind == entry::file) co_return make_error_code(storage_errc::not_a_directory);
      if (e.kind == entry::directory) break;
    }
    co_return make_error_code(storage_errc::not_found);
  }

  /// The parent of `path` must be a directory.
  asio::awaitable<std::error_code> check_parent(std::string path) const {
    const std::string parent = parent_of(path);
    if (parent == "/") co_return std::error_code();
    auto [dec, is_dir] = co_await directory_exists(key_of(parent));  // the usual case first: one request
    if (dec) co_return dec;
    if (is_dir) co_return std::error_code();
    co_return co_await missing(path);
  }

  std::string copy_source(const std::string& key) const {
    return '/' + options().bucket + '/' + detail::s3::uri_encode(key, true);
  }

  asio::awaitable<std::error_code> copy_object(std::string from, std::string to) const {
    request r{"PUT", std::move(to)};
    r.headers = {{"x-amz-copy-source", copy_source(from)}, {"x-amz-metadata-directive", "COPY"}};
    auto [ec, resp] = co_await send(std::move(r));
    co_return ec;
  }

  std::shared_ptr<const config> cfg_;
};

/// A file being read: one streamed GET from the open offset, resumed with a Range
/// request (If-Match on the object's ETag, so never mixing two versions) if its
/// connection breaks.
class s3_storage::reader {
 public:
  reader() = default;
  reader(reader&&) noexcept = default;
  reader& operator=(reader&& o) noexcept {
    if (this != &o) {
      detail::curl_multi_service::cancel(t_);
      fs_ = std::move(o.fs_);
      key_ = std::move(o.key_);
      etag_ = std::move(o.etag_);
      size_ = o.size_;
      pos_ = o.pos_;
      t_ = std::move(o.t_);
    }
    return *this;
  }
  ~reader() { detail::curl_multi_service::cancel(t_); }

  std::uint64_t size() const noexcept { return size_; }
  int native_handle() const noexcept { return -1; }

  asio::awaitable<result<std::size_t>> read_some(asio::mutable_buffer b) {
    using detail::curl_multi_service;
    if (pos_ >= size_ || b.size() == 0) co_return result<std::size_t>(std::error_code(), 0);
    for (unsigned attempt = 0;; ++attempt) {
      std::error_code ec;
      if (t_) {
        std::size_t n = co_await curl_multi_service::async_wait(t_, detail::http_transfer::until::data, b,
                                                                asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return result<std::size_t>(ec, 0);  // ABOR
        if (!ec && n > 0) {
          pos_ += n;
          co_return result<std::size_t>(std::error_code(), n);
        }
        if (!ec && pos_ >= size_) co_return result<std::size_t>(std::error_code(), 0);
        curl_multi_service::cancel(std::exchange(t_, nullptr));  // broke off early: resume
      }
      if (attempt >= fs_.options().retries) co_return result<std::size_t>(make_error_code(storage_errc::io_error), 0);
      if (auto sec = co_await start()) co_return result<std::size_t>(sec, 0);
    }
  }

 private:
  friend class s3_storage;
  reader(const s3_storage& fs, std::string key, std::string etag, std::uint64_t size, std::uint64_t pos)
      : fs_(fs), key_(std::move(key)), etag_(std::move(etag)), size_(size), pos_(pos) {}

  // Starts the GET from pos_ and waits for its status; for a short remainder, for all
  // of it, so that what was opened is what is read even if the object is replaced.
  asio::awaitable<std::error_code> start() {
    using detail::curl_multi_service;
    if (pos_ >= size_) co_return std::error_code();
    s3_storage::request r{"GET", key_};
    r.streamed = true;
    if (pos_ > 0) r.headers.emplace_back("range", "bytes=" + std::to_string(pos_) + '-');
    if (!etag_.empty()) r.headers.emplace_back("if-match", etag_);
    auto& service = curl_multi_service::of(co_await asio::this_coro::executor);
    auto t = service.start(fs_.sign(r));
    const auto until = size_ - pos_ <= snapshot_bytes ? detail::http_transfer::until::done : detail::http_transfer::until::headers;
    std::error_code ec;
    co_await curl_multi_service::async_wait(t, until, {}, asio::redirect_error(asio::use_awaitable, ec));
    if (ec != asio::error::operation_aborted) fs_.cfg_->stats.count(ec, t->response.status);
    if (ec) {
      curl_multi_service::cancel(t);
      co_return ec == asio::error::operation_aborted ? ec : make_error_code(storage_errc::io_error);
    }
    if (t->response.status != 200 && t->response.status != 206) {
      if (until == detail::http_transfer::until::headers)
        co_await curl_multi_service::async_wait(t, detail::http_transfer::until::done, {},
                                                asio::redirect_error(asio::use_awaitable, ec));
      co_return t->response.status == 412 ? make_error_code(storage_errc::io_error)  // replaced meanwhile
                                          : status_error(t->response);
    }
    t_ = std::move(t);
    co_return std::error_code();
  }

  static constexpr std::uint64_t snapshot_bytes = 256 * 1024;

  s3_storage fs_;
  std::string key_, etag_;
  std::uint64_t size_ = 0, pos_ = 0;
  std::shared_ptr<detail::http_transfer> t_;
};

/// An upload: a single PUT on commit when it fits in one part, else a multipart upload
/// whose parts go up while the client sends. Destroyed uncommitted, it aborts the
/// multipart upload; nothing becomes visible.
class s3_storage::writer {
 public:
  writer() = default;
  writer(writer&& o) noexcept { *this = std::move(o); }
  writer& operator=(writer&& o) noexcept {
    if (this != &o) {
      abandon();
      fs_ = std::move(o.fs_);
      key_ = std::move(o.key_);
      create_new_ = o.create_new_;
      open_ = std::exchange(o.open_, false);
      buf_ = std::move(o.buf_);
      spare_ = std::move(o.spare_);
      upload_id_ = std::move(o.upload_id_);
      next_part_ = o.next_part_;
      parts_ = std::move(o.parts_);
      inflight_ = std::move(o.inflight_);
      service_ = o.service_;
      alive_ = std::move(o.alive_);
    }
    return *this;
  }
  ~writer() { abandon(); }

  asio::awaitable<std::error_code> write(asio::const_buffer b) {
    if (!open_) co_return make_error_code(storage_errc::io_error);
    const std::size_t part = fs_.options().part_size;
    const char* p = static_cast<const char*>(b.data());
    std::size_t left = b.size();
    while (left > 0) {
      if (buf_.capacity() < part) {
        if (spare_.capacity() >= part) buf_ = std::exchange(spare_, std::string());  // no fresh pages to fault in
        else buf_.reserve(part);
      }
      std::size_t n = std::min(left, part - buf_.size());
      buf_.append(p, n);
      p += n;
      left -= n;
      if (buf_.size() == part)
        if (auto ec = co_await send_part(std::exchange(buf_, std::string()))) co_return fail(ec);
    }
    co_return std::error_code();
  }

  asio::awaitable<std::error_code> commit() {
    if (!open_) co_return make_error_code(storage_errc::io_error);
    if (create_new_) {  // no "create if absent" for multipart uploads: check just before
      auto [ec, e] = co_await fs_.lookup(key_);
      if (ec) co_return fail(ec);
      if (e.kind != entry::none) co_return fail(make_error_code(storage_errc::already_exists));
    }
    if (upload_id_.empty()) {
      s3_storage::request r{"PUT", key_};
      r.body = std::move(buf_);
      // Stores that know conditional writes (RGW, S3 since 2024) close the race left by
      // the check above; the others ignore the header.
      if (create_new_) r.headers.emplace_back("if-none-match", "*");
      auto [ec, resp] = co_await fs_.send(std::move(r));
      open_ = false;
      if (create_new_ && resp.status == 412) co_return make_error_code(storage_errc::already_exists);
      co_return ec;
    }
    if (!buf_.empty())
      if (auto ec = co_await send_part(std::exchange(buf_, std::string()))) co_return fail(ec);
    while (!inflight_.empty())
      if (auto ec = co_await finish_oldest()) co_return fail(ec);
    std::string xml = "<CompleteMultipartUpload>";
    for (auto& [number, etag] : parts_)
      xml += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    s3_storage::request r{"POST", key_};
    r.query = {{"uploadId", upload_id_}};
    r.body = std::move(xml);
    r.idempotent = false;
    auto [ec, resp] = co_await fs_.send(std::move(r));
    if (ec) co_return fail(ec);
    open_ = false;
    upload_id_.clear();
    co_return std::error_code();
  }

 private:
  friend class s3_storage;
  writer(const s3_storage& fs, std::string key, bool create_new)
      : fs_(fs), key_(std::move(key)), create_new_(create_new), open_(true) {}

  struct part_upload {
    int number;
    std::shared_ptr<detail::http_transfer> t;
  };

  // The first `n` bytes of the object as it is now (ETag `etag`) start the new content.
  asio::awaitable<std::error_code> keep(std::uint64_t n, std::string etag) {
    if (n < fs_.options().copy_threshold) {
      s3_storage::request r{"GET", key_};
      r.headers = {{"range", "bytes=0-" + std::to_string(n - 1)}, {"if-match", etag}};
      auto [ec, resp] = co_await fs_.send(std::move(r));
      if (ec) co_return ec;
      if (resp.body.size() != n) co_return make_error_code(storage_errc::io_error);
      buf_ = std::move(resp.body);
      co_return std::error_code();
    }
    if (auto ec = co_await create_upload()) co_return ec;
    s3_storage::request r{"PUT", key_};
    r.query = {{"partNumber", std::to_string(next_part_)}, {"uploadId", upload_id_}};
    r.headers = {{"x-amz-copy-source", fs_.copy_source(key_)},
                 {"x-amz-copy-source-if-match", etag},
                 {"x-amz-copy-source-range", "bytes=0-" + std::to_string(n - 1)}};
    auto [ec, resp] = co_await fs_.send(std::move(r));
    if (ec) co_return fail(ec);
    auto part_etag = detail::s3::xml_text(resp.body, "ETag");
    if (!part_etag || part_etag->empty()) co_return fail(make_error_code(storage_errc::io_error));
    if (part_etag->front() != '"') *part_etag = '"' + *part_etag + '"';  // RGW leaves it unquoted here
    parts_.emplace_back(next_part_++, *part_etag);
    co_return std::error_code();
  }

  asio::awaitable<std::error_code> create_upload() {
    auto& service = detail::curl_multi_service::of(co_await asio::this_coro::executor);
    service_ = &service;
    alive_ = service.alive();
    s3_storage::request r{"POST", key_};
    r.query = {{"uploads", ""}};
    auto [ec, resp] = co_await fs_.send(std::move(r));
    if (ec) co_return ec;
    upload_id_ = detail::s3::xml_text(resp.body, "UploadId").value_or("");
    co_return upload_id_.empty() ? make_error_code(storage_errc::io_error) : std::error_code();
  }

  s3_storage::request part_request(int number, std::string body) const {
    s3_storage::request r{"PUT", key_};
    r.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}};
    r.body = std::move(body);
    r.payload_hash = detail::s3::unsigned_payload;
    return r;
  }

  // Starts uploading one part, after waiting for the oldest when enough are in flight.
  asio::awaitable<std::error_code> send_part(std::string body) {
    if (upload_id_.empty())
      if (auto ec = co_await create_upload()) co_return ec;
    while (inflight_.size() >= fs_.options().parts_in_flight)
      if (auto ec = co_await finish_oldest()) co_return ec;
    auto& service = detail::curl_multi_service::of(co_await asio::this_coro::executor);
    service_ = &service;
    alive_ = service.alive();
    const int number = next_part_++;
    auto r = part_request(number, std::move(body));
    inflight_.push_back({number, service.start(fs_.sign(r))});
    co_return std::error_code();
  }

  // Waits for the oldest part in flight; retries it as `send` would.
  asio::awaitable<std::error_code> finish_oldest() {
    using detail::curl_multi_service;
    auto ex = co_await asio::this_coro::executor;
    auto part = std::move(inflight_.front());
    inflight_.pop_front();
    const auto& o = fs_.options();
    for (unsigned attempt = 0;; ++attempt) {
      std::error_code ec;
      co_await curl_multi_service::async_wait(part.t, detail::http_transfer::until::done, {},
                                              asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) {
        curl_multi_service::cancel(part.t);
        co_return ec;
      }
      fs_.cfg_->stats.count(ec, part.t->response.status);
      if (!ec && part.t->response.status == 200) {
        auto etag = part.t->response.header("etag");
        if (etag.empty()) co_return make_error_code(storage_errc::io_error);
        parts_.emplace_back(part.number, std::string(etag));
        spare_ = std::move(part.t->request.body);  // the next part is written into it
        spare_.clear();
        co_return std::error_code();
      }
      if (attempt >= o.retries || !worth_retrying(ec, part.t->response.status))
        co_return ec ? make_error_code(storage_errc::io_error) : status_error(part.t->response);
      asio::steady_timer delay(ex, o.retry_delay * (1 << std::min(attempt, 10u)));
      co_await delay.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      auto& service = curl_multi_service::of(ex);
      auto r = part_request(part.number, std::move(part.t->request.body));
      ++fs_.cfg_->stats.retries;
      part.t = service.start(fs_.sign(r));
    }
  }

  std::error_code fail(std::error_code ec) {
    abandon();
    return ec;
  }

  // Stops the parts in flight and aborts the multipart upload, without waiting: on the
  // io_context of the last transfer, if it still runs.
  void abandon() noexcept {
    for (auto& p : inflight_) detail::curl_multi_service::cancel(p.t);
    inflight_.clear();
    if (open_ && !upload_id_.empty() && service_ != nullptr && !alive_.expired()) {
      s3_storage::request r{"DELETE", key_};
      r.query = {{"uploadId", upload_id_}};
      try {
        service_->start(fs_.sign(r));
      } catch (...) {  // out of memory: the store's lifecycle rules clean up
      }
    }
    open_ = false;
    upload_id_.clear();
    buf_ = std::string();
    spare_ = std::string();
  }

  s3_storage fs_;
  std::string key_;
  bool create_new_ = false;
  bool open_ = false;
  std::string buf_;
  std::string spare_;  ///< a sent part's buffer, kept for the next part
  std::string upload_id_;
  int next_part_ = 1;
  std::vector<std::pair<int, std::string>> parts_;
  std::deque<part_upload> inflight_;
  detail::curl_multi_service* service_ = nullptr;  ///< where the upload runs, while alive_
  std::weak_ptr<char> alive_;
};

/// A directory being listed: one ListObjectsV2 page per `read`.
class s3_storage::directory {
 public:
  directory() = default;

  asio::awaitable<std::error_code> read(std::vector<file_info>& entries) {
    entries.clear();
    for (int pages = 0; !done_ && entries.empty() && pages < 1000; ++pages) {
      auto [ec, page] = co_await fs_.list(prefix_, token_, listing_batch);
      if (ec) co_return ec;
      for (auto& o : page.objects) {
        if (o.key.size() <= prefix_.size() || !o.key.starts_with(prefix_)) continue;  // the marker itself
        file_info i;
        i.name = o.key.substr(prefix_.size());
        i.type = file_type::regular;
        i.size = o.size;
        if (auto t = detail::s3::parse_iso8601(o.last_modified)) i.mtime = *t;
        entries.push_back(std::move(i));
      }
      for (auto& p : page.prefixes) {
        if (p.size() <= prefix_.size() + 1 || !p.starts_with(prefix_)) continue;
        entries.push_back(s3_storage::directory_info(p.substr(prefix_.size(), p.size() - prefix_.size() - 1)));
      }
      token_ = std::move(page.next_token);
      done_ = !page.truncated || token_.empty();
    }
    co_return std::error_code();
  }

 private:
  friend class s3_storage;
  directory(const s3_storage& fs, std::string prefix) : fs_(fs), prefix_(std::move(prefix)), done_(false) {}

  s3_storage fs_;
  std::string prefix_;
  std::string token_;
  bool done_ = true;  // a default-constructed directory is empty
};

// --- the operations that open a reader, a writer or a directory ------------------------------

inline asio::awaitable<result<s3_storage::directory>> s3_storage::open_directory(std::string path) const {
  if (path != "/") {
    auto [ec, is_dir] = co_await directory_exists(key_of(path));  // the usual case first: one request
    if (ec) co_return result<directory>(ec, directory());
    if (!is_dir) {
      auto [lec, e] = co_await lookup(key_of(path));
      if (lec) co_return result<directory>(lec, directory());
      if (e.kind == entry::file) co_return result<directory>(make_error_code(storage_errc::not_a_directory), directory());
      auto mec = co_await missing(path);
      co_return result<directory>(mec, directory());
    }
  }
  co_return result<directory>(std::error_code(), directory(*this, dir_key_of(path)));
}

inline asio::awaitable<result<s3_storage::reader>> s3_storage::open_read(std::string path, std::uint64_t offset) const {
  if (path == "/") co_return result<reader>(make_error_code(storage_errc::is_a_directory), reader());
  const std::string key = key_of(path);
  auto [ec, e] = co_await lookup(key);
  if (ec) co_return result<reader>(ec, reader());
  if (e.kind == entry::directory) co_return result<reader>(make_error_code(storage_errc::is_a_directory), reader());
  if (e.kind == entry::none) {
    auto mec = co_await missing(path);
    co_return result<reader>(mec, reader());
  }
  reader r(*this, key, std::move(e.etag), e.info.size, std::min(offset, e.info.size));
  if (auto oec = co_await r.start()) co_return result<reader>(oec, reader());
  co_return result<reader>(std::error_code(), std::move(r));
}

// g++ 12 inlines the frame allocation of this coroutine into its callers and then takes
// Asio's aligned_alloc and its sized operator delete for a mismatched pair: a false
// -Wmismatched-new-delete (GCC PR 109224, fixed in 13), as in commands/listing.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
inline asio::awaitable<result<s3_storage::writer>> s3_storage::open_write(std::string path, write_mode mode,
                                                                          std::uint64_t offset) const {
  const bool create_new = mode == write_mode::create_new;
  const auto taken = make_error_code(create_new ? storage_errc::already_exists : storage_errc::is_a_directory);
  if (path == "/") co_return result<writer>(taken, writer());
  if (auto ec = co_await check_parent(path)) co_return result<writer>(ec, writer());
  const std::string key = key_of(path);
  auto [ec, e] = co_await lookup(key);
  if (ec) co_return result<writer>(ec, writer());
  if (e.kind == entry::directory) co_return result<writer>(taken, writer());
  const bool exists = e.kind == entry::file;
  if (create_new && exists) co_return result<writer>(make_error_code(storage_errc::already_exists), writer());
  if (offset > 0 && (mode != write_mode::replace || !exists || offset > e.info.size))
    co_return result<writer>(make_error_code(storage_errc::invalid_offset), writer());
  writer w(*this, key, create_new);
  const std::uint64_t kept = mode == write_mode::append && exists ? e.info.size : offset;
  if (kept > 0)
    if (auto kec = co_await w.keep(kept, e.etag)) co_return result<writer>(kec, writer());
  co_return result<writer>(std::error_code(), std::move(w));
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}  // namespace coftp
