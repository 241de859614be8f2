// coftp/storage/s3/curl_multi.hpp - libcurl's multi-socket interface driven by Asio, for
// the S3 backend: HTTP requests become awaitable operations on the caller's executor,
// no thread blocks on a request, and all sessions of one io_context share one
// connection cache (keep-alive, bounded).
//
// One `curl_multi_service` per io_context (an Asio service: created on first use,
// shut down with the io_context). Its state - the multi handle, curl's sockets, its
// timer, the live transfers - is touched only on the service's strand, so any number of
// threads may run the io_context. curl's sockets are watched with `async_wait` on
// stream_descriptors that curl itself opens and closes through our callbacks, as in
// curl's asiohiper example.
//
// A transfer's response body is either kept whole (`http_request::streamed` false:
// small answers, XML) or handed out piecewise by `async_read` with backpressure: curl
// is paused while more than `stream_high_water` bytes wait, so a GET of a large object
// holds at most that much memory however slow the FTP client is.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <curl/curl.h>

#include <atomic>
#include <stdexcept>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef COFTP_HTTP_MAX_CONNECTIONS
/// Connections one io_context keeps to one host, busy and idle together.
#define COFTP_HTTP_MAX_CONNECTIONS 64
#endif

namespace coftp::detail {

/// curl's transfer errors (CURLcode) as std::error_code.
inline const std::error_category& curl_category() noexcept {
  struct category final : std::error_category {
    const char* name() const noexcept override { return "curl"; }
    std::string message(int ev) const override { return curl_easy_strerror(static_cast<CURLcode>(ev)); }
  };
  static const category c;
  return c;
}

/// An HTTP request as the S3 backend sends it: already signed.
struct http_request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers{};  ///< "name: value"
  std::string body{};                  ///< the request body of PUT and POST
  bool streamed = false;               ///< the response body is read with `async_read`
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};  ///< whole transfer; 0: none
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
};

struct http_response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers{};  ///< names in lower case
  std::string body{};  ///< the whole body (not streamed), or an error answer's

  std::string_view header(std::string_view name) const noexcept {
    for (auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
};

class curl_multi_service;

/// One HTTP exchange. Created by `start_transfer`, then owned jointly by its caller and,
/// while curl works on it, by the service.
class http_transfer {
 public:
  explicit http_transfer(http_request r) : request(std::move(r)) {}
  http_transfer(const http_transfer&) = delete;
  http_transfer& operator=(const http_transfer&) = delete;
  ~http_transfer() {
    if (headers_) curl_slist_free_all(headers_);
  }

  http_request request;
  http_response response{};

  /// What a waiting operation waits for.
  enum class until { headers, data, done };

 private:
  friend class curl_multi_service;

  struct waiter {
    until kind;
    asio::mutable_buffer dest;
    explicit waiter(until k, asio::mutable_buffer d) : kind(k), dest(d) {}
    virtual void complete(std::error_code ec, std::size_t n) = 0;
    virtual ~waiter() = default;
  };
  template <class Handler, class Work>
  struct waiter_for final : waiter {
    Handler handler;
    Work work;
    waiter_for(until k, asio::mutable_buffer d, Handler&& h, Work w)
        : waiter(k, d), handler(std::move(h)), work(std::move(w)) {}
    void complete(std::error_code ec, std::size_t n) override {
      auto ex = asio::get_associated_executor(handler);
      // Posted, never run inline: a waiter is completed from inside curl's callbacks.
      asio::post(ex, [h = std::move(handler), ec, n]() mutable {
        asio::get_associated_cancellation_slot(h).clear();
        std::move(h)(ec, n);
      });
    }
  };

  std::error_code error() const {
    return result_ == CURLE_OK ? std::error_code() : std::error_code(int(result_), curl_category());
  }

  std::atomic<curl_multi_service*> service_{nullptr};
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  CURLcode result_ = CURLE_OK;
  bool headers_done_ = false;
  bool done_ = false;
  bool paused_ = false;
  std::string rx_{};  ///< received body bytes not yet handed out; from rx_pos_
  std::size_t rx_pos_ = 0;
  std::unique_ptr<waiter> waiter_{};
  std::uint64_t waiter_id_ = 0;
};

class curl_multi_service : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;

  /// Bytes of a streamed body held before curl is paused, and the level below which
  /// it is resumed.
  static constexpr std::size_t stream_high_water = 512 * 1024;
  static constexpr std::size_t stream_low_water = 128 * 1024;
  /// Largest body kept whole (an XML answer): beyond, the transfer fails.
  static constexpr std::size_t max_buffered_body = 16 * 1024 * 1024;

  explicit curl_multi_service(asio::io_context& io)
      : asio::execution_context::service(io), strand_(asio::make_strand(io)), timer_(strand_) {
    static const bool initialized = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    (void)initialized;
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &curl_multi_service::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &curl_multi_service::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, long(COFTP_HTTP_MAX_CONNECTIONS));
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, long(COFTP_HTTP_MAX_CONNECTIONS));
  }

  ~curl_multi_service() override { cleanup(); }

  /// The service of the io_context behind `ex`: an io_context's executor or a strand
  /// of one, as coftp's sessions run on. Throws std::logic_error for other executors.
  static curl_multi_service& of(const asio::any_io_executor& ex) {
    using plain = asio::io_context::executor_type;
    using tracked = decltype(asio::prefer(std::declval<plain>(), asio::execution::outstanding_work.tracked));
    if (auto* e = ex.target<plain>()) return asio::use_service<curl_multi_service>(e->context());
    if (auto* e = ex.target<tracked>()) return asio::use_service<curl_multi_service>(e->context());
    if (auto* e = ex.target<asio::strand<plain>>()) return asio::use_service<curl_multi_service>(e->get_inner_executor().context());
    if (auto* e = ex.target<asio::strand<tracked>>())
      return asio::use_service<curl_multi_service>(e->get_inner_executor().context());
    throw std::logic_error("coftp: HTTP transfers need an io_context executor (or a strand of one)");
  }

  /// What the service holds: transfers curl works on, sockets it watches (busy and
  /// idle). For diagnostics; read it only while no thread runs the io_context.
  std::pair<std::size_t, std::size_t> held() const noexcept { return {active_.size(), sockets_.size()}; }

  /// Expires when the service shuts down (its io_context is destroyed).
  std::weak_ptr<char> alive() const noexcept { return alive_; }

  /// Starts `request`; callable from any thread. Wait for it with `async_wait`.
  std::shared_ptr<http_transfer> start(http_request request) {
    auto t = std::make_shared<http_transfer>(std::move(request));
    t->service_ = this;
    asio::post(strand_, [this, t] { add(t); });
    return t;
  }

  /// Stops `t` if it still runs; callable from any thread, also on a transfer whose
  /// io_context is gone.
  static void cancel(const std::shared_ptr<http_transfer>& t) {
    if (!t) return;
    if (auto* s = t->service_.load()) asio::post(s->strand_, [s, t] { s->finish(*t, CURLE_ABORTED_BY_CALLBACK); });
  }

  /// Waits until `t`'s headers are in, until it is done, or (`until::data`) for body
  /// bytes copied into `dest`: (error, bytes), 0 bytes and no error at the end of the
  /// body. The error is curl's; an HTTP error status is no error here. Cancellable.
  template <class Token>
  static auto async_wait(std::shared_ptr<http_transfer> t, http_transfer::until kind, asio::mutable_buffer dest,
                         Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [](auto handler, std::shared_ptr<http_transfer> t, http_transfer::until kind, asio::mutable_buffer dest) {
          auto ex = asio::get_associated_executor(handler);
          auto work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
          auto* s = t->service_.load();
          using handler_type = decltype(handler);
          auto w = std::make_unique<http_transfer::waiter_for<handler_type, decltype(work)>>(
              kind, dest, std::move(handler), std::move(work));
          if (s == nullptr) {  // its io_context is gone: only what it had received
            deliver_orphan(*t, std::move(w));
            return;
          }
          const std::uint64_t wid = s->next_waiter_id_.fetch_add(1) + 1;
          auto slot = asio::get_associated_cancellation_slot(w->handler);
          if (slot.is_connected()) {
            slot.assign([s, t, wid](asio::cancellation_type) {
              asio::post(s->strand_, [t, wid] {
                if (t->waiter_ && t->waiter_id_ == wid) std::exchange(t->waiter_, nullptr)->complete(asio::error::operation_aborted, 0);
              });
            });
          }
          asio::post(s->strand_, [s, t, wid, w = std::move(w)]() mutable {
            t->waiter_ = std::move(w);
            t->waiter_id_ = wid;
            s->poke(*t);
          });
        },
        token, std::move(t), kind, dest);
  }

 private:
  struct socket_watch {
    explicit socket_watch(const asio::strand<asio::io_context::executor_type>& ex) : descriptor(ex) {}
    asio::posix::stream_descriptor descriptor;
    int what = 0;
    bool reading = false, writing = false, closed = false;
  };

  void shutdown() override { cleanup(); }

  void cleanup() {
    if (multi_ == nullptr) return;
    alive_.reset();
    timer_.cancel();
    auto active = std::move(active_);
    for (auto& [easy, t] : active) {  // first orphan them all: see deliver_orphan
      curl_multi_remove_handle(multi_, easy);
      curl_easy_cleanup(easy);
      t->easy_ = nullptr;
      t->done_ = true;
      if (t->result_ == CURLE_OK) t->result_ = CURLE_ABORTED_BY_CALLBACK;
      t->service_ = nullptr;
    }
    // Then drop their waiters: a handler dies with the io_context's other handlers, and
    // what its coroutine frame held (readers, writers) finds its transfers orphaned.
    for (auto& [easy, t] : active) t->waiter_.reset();
    curl_multi_cleanup(multi_);  // closes cached connections through on_close
    multi_ = nullptr;
    for (auto& [fd, w] : sockets_) {
      std::error_code ec;
      w->closed = true;
      w->descriptor.release();
      ::close(fd);
    }
    sockets_.clear();
  }

  // A waiter on a transfer whose service is gone (its io_context was destroyed while
  // the transfer was kept): the bytes it had received, then its end.
  template <class W>
  static void deliver_orphan(http_transfer& t, std::unique_ptr<W> w) {
    using until = http_transfer::until;
    if (w->kind == until::data && t.rx_pos_ < t.rx_.size()) {
      std::size_t n = asio::buffer_copy(w->dest, asio::buffer(t.rx_) + t.rx_pos_);
      t.rx_pos_ += n;
      w->complete({}, n);
      return;
    }
    w->complete(t.done_ ? t.error() : std::error_code(int(CURLE_ABORTED_BY_CALLBACK), curl_category()), 0);
  }

  void add(const std::shared_ptr<http_transfer>& t) {
    if (multi_ == nullptr || t->done_) return finish_detached(*t, CURLE_ABORTED_BY_CALLBACK);
    CURL* e = curl_easy_init();
    if (e == nullptr) return finish_detached(*t, CURLE_OUT_OF_MEMORY);
    t->easy_ = e;
    auto& r = t->request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(r.connect_timeout.count()));
    if (r.timeout.count() > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, long(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 128L * 1024);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &curl_multi_service::on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &curl_multi_service::on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &curl_multi_service::on_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &curl_multi_service::on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    if (r.method == "HEAD") {
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (r.method == "PUT" || r.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(r.body.size()));
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    } else if (r.method != "GET") {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }
    if (t->headers_) curl_slist_free_all(std::exchange(t->headers_, nullptr));
    for (auto& h : r.headers) t->headers_ = curl_slist_append(t->headers_, h.c_str());
    t->headers_ = curl_slist_append(t->headers_, "Expect:");  // no 100-continue round trip
    if (r.method == "PUT" || r.method == "POST")
      t->headers_ = curl_slist_append(t->headers_, "Content-Type: application/octet-stream");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers_);
    active_.emplace(e, t);
    if (curl_multi_add_handle(multi_, e) != CURLM_OK) finish(*t, CURLE_FAILED_INIT);
  }

  // Ends `t` (on the strand): its easy handle goes, a waiter learns the outcome.
  void finish(http_transfer& t, CURLcode result) {
    if (t.done_) return;
    if (t.easy_ != nullptr) {
      CURL* e = std::exchange(t.easy_, nullptr);
      curl_multi_remove_handle(multi_, e);
      curl_easy_cleanup(e);
      auto keep = std::move(active_.at(e));  // `t` lives until the end of this scope
      active_.erase(e);
      finish_detached(t, result);
      return;
    }
    finish_detached(t, result);
  }
  void finish_detached(http_transfer& t, CURLcode result) {
    if (t.done_) return;
    t.result_ = result;
    t.done_ = true;
    t.headers_done_ = true;
    if (!t.request.streamed || t.response.status >= 300) {
      t.response.body = t.rx_.substr(t.rx_pos_);
      t.rx_.clear();
      t.rx_pos_ = 0;
    }
    poke(t);
    t.service_ = nullptr;  // done: later waits need no service (deliver_orphan)
  }

  // Completes `t`'s waiter if what it waits for has happened.
  void poke(http_transfer& t) {
    using until = http_transfer::until;
    if (!t.waiter_) return;
    switch (t.waiter_->kind) {
      case until::headers:
        if (!t.headers_done_) return;
        std::exchange(t.waiter_, nullptr)->complete(t.done_ ? t.error() : std::error_code(), 0);
        return;
      case until::done:
        if (!t.done_) return;
        std::exchange(t.waiter_, nullptr)->complete(t.error(), 0);
        return;
      case until::data: {
        if (t.rx_pos_ < t.rx_.size()) {
          auto w = std::exchange(t.waiter_, nullptr);
          std::size_t n = asio::buffer_copy(w->dest, asio::buffer(t.rx_) + t.rx_pos_);
          t.rx_pos_ += n;
          if (t.rx_pos_ == t.rx_.size()) {
            t.rx_.clear();
            t.rx_pos_ = 0;
          }
          if (t.paused_ && t.easy_ != nullptr && t.rx_.size() - t.rx_pos_ < stream_low_water) {
            t.paused_ = false;
            curl_easy_pause(t.easy_, CURLPAUSE_CONT);  // may deliver at once, into rx_
          }
          w->complete({}, n);
        } else if (t.done_) {
          std::exchange(t.waiter_, nullptr)->complete(t.error(), 0);
        }
        return;
      }
    }
  }

  void act(curl_socket_t fd, int events) {
    if (multi_ == nullptr) return;
    int running = 0;
    curl_multi_socket_action(multi_, fd, events, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      http_transfer* t = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
      CURLcode result = m->data.result;
      if (t != nullptr) finish(*t, result);
    }
  }

  void arm(const std::shared_ptr<socket_watch>& w, curl_socket_t fd) {
    auto watch = [this, w, fd](asio::posix::stream_descriptor::wait_type type, bool& pending, int flag, int select) {
      if (!(w->what & flag) || pending) return;
      pending = true;
      w->descriptor.async_wait(type, asio::bind_executor(strand_, [this, w, fd, &pending, flag, select](std::error_code ec) {
        pending = false;
        if (w->closed || (ec && ec != asio::error::operation_aborted)) return;
        if (!ec && (w->what & flag)) act(fd, select);
        if (!w->closed) arm(w, fd);  // after a cancel (on_socket): what is still wanted
      }));
      // The reactor may have seen the edge before the wait was queued (another thread
      // in epoll_wait): look once more, a spare action is harmless.
      pollfd p{fd, short(flag == CURL_POLL_IN ? POLLIN : POLLOUT), 0};
      if (::poll(&p, 1, 0) > 0) asio::post(strand_, [this, w, fd, select] {
        if (!w->closed) act(fd, select);
      });
    };
    watch(asio::posix::stream_descriptor::wait_read, w->reading, CURL_POLL_IN, CURL_CSELECT_IN);
    watch(asio::posix::stream_descriptor::wait_write, w->writing, CURL_POLL_OUT, CURL_CSELECT_OUT);
  }

  // --- curl's callbacks (all run on the strand, inside a curl call) ---------------------

  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void*) {
    auto& s = *static_cast<curl_multi_service*>(self);
    auto it = s.sockets_.find(fd);
    if (it == s.sockets_.end()) return 0;
    auto& w = *it->second;
    w.what = what == CURL_POLL_REMOVE ? 0 : what;
    // A wait curl no longer wants is cancelled: left queued on a connection that goes
    // idle into curl's cache (the end of a body read by a resume's or a timer's action,
    // not by that wait), it would keep the io_context from running out of work until
    // the store closes the connection, and a server's stop() from ending. The
    // cancelled handlers queue again what is still wanted.
    if ((w.reading && !(w.what & CURL_POLL_IN)) || (w.writing && !(w.what & CURL_POLL_OUT))) {
      std::error_code ec;
      w.descriptor.cancel(ec);
    }
    s.arm(it->second, fd);
    return 0;
  }

  static int on_timer(CURLM*, long ms, void* self) {
    auto& s = *static_cast<curl_multi_service*>(self);
    if (ms < 0) {
      s.timer_.cancel();
      return 0;
    }
    s.timer_.expires_after(std::chrono::milliseconds(ms));
    s.timer_.async_wait([&s](std::error_code ec) {
      if (!ec) s.act(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
  }

  static curl_socket_t on_open(void* self, curlsocktype purpose, curl_sockaddr* a) {
    auto& s = *static_cast<curl_multi_service*>(self);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    int fd = ::socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    auto w = std::make_shared<socket_watch>(s.strand_);
    std::error_code ec;
    w->descriptor.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    s.sockets_[fd] = std::move(w);
    return fd;
  }

  static int on_close(void* self, curl_socket_t fd) {
    auto& s = *static_cast<curl_multi_service*>(self);
    if (auto it = s.sockets_.find(fd); it != s.sockets_.end()) {
      it->second->closed = true;
      std::error_code ec;
      it->second->descriptor.cancel(ec);
      it->second->descriptor.release();
      s.sockets_.erase(it);
    }
    return ::close(fd);
  }

  static std::size_t on_write(char* p, std::size_t, std::size_t n, void* user) {
    auto& t = *static_cast<http_transfer*>(user);
    const bool stream = t.request.streamed && t.response.status < 300;
    if (stream && t.rx_.size() - t.rx_pos_ >= stream_high_water) {
      t.paused_ = true;
      return CURL_WRITEFUNC_PAUSE;  // curl offers these bytes again after the resume
    }
    if (!stream && t.rx_.size() + n > max_buffered_body) return 0;  // fails the transfer
    if (t.rx_pos_ > 0 && t.rx_pos_ >= t.rx_.size() / 2) {
      t.rx_.erase(0, t.rx_pos_);
      t.rx_pos_ = 0;
    }
    t.rx_.append(p, n);
    if (stream)
      if (auto* s = t.service_.load()) s->poke(t);
    return n;
  }

  static std::size_t on_header(char* p, std::size_t, std::size_t n, void* user) {
    auto& t = *static_cast<http_transfer*>(user);
    std::string_view line(p, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {  // a status line: a new response (after a 100, a retry)
      auto sp = line.find(' ');
      long status = 0;
      for (std::size_t i = sp == line.npos ? line.size() : sp + 1; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
        status = status * 10 + (line[i] - '0');
      t.response.status = status;
      t.response.headers.clear();
    } else if (line.empty()) {
      if (t.response.status >= 200) {
        t.headers_done_ = true;
        if (auto* s = t.service_.load()) s->poke(t);
      }
    } else if (auto colon = line.find(':'); colon != line.npos) {
      std::string name(line.substr(0, colon));
      for (auto& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (t.response.headers.size() < 100) t.response.headers.emplace_back(std::move(name), std::string(value));
    }
    return n;
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  CURLM* multi_ = nullptr;
  std::unordered_map<curl_socket_t, std::shared_ptr<socket_watch>> sockets_;
  std::unordered_map<CURL*, std::shared_ptr<http_transfer>> active_;
  std::atomic<std::uint64_t> next_waiter_id_{0};
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace coftp::detail
