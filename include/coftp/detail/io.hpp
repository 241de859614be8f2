// coftp/detail/io.hpp - small Asio helpers shared by the control and data connections.
#pragma once

#include <asio/bind_allocator.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

namespace coftp::detail {

/// sendfile(2) without SIGPIPE. sendfile has no MSG_NOSIGNAL: to a peer that reset the
/// connection it raises SIGPIPE, whose default action kills the whole process (one
/// client vanishing mid-RETR would end the server). SIGPIPE is blocked for this thread
/// around the call, and the one the call raised is consumed before unblocking. Returns
/// what sendfile returns, with its errno (EPIPE then).
inline ssize_t sendfile_nosignal(int out_fd, int in_fd, off_t* offset, std::size_t count) noexcept {
  sigset_t pipe_only, old_mask, pending;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
  sigemptyset(&pending);
  sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t n = ::sendfile(out_fd, in_fd, offset, count);
  const int saved = errno;
  // The SIGPIPE can come with a partial count too: sendfile moves the data in several
  // internal steps, and a later one may hit the broken pipe after earlier ones
  // succeeded. So look at what is pending, whatever the result.
  if (!already_pending) {
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved;
  return n;
}

/// A pipe for splice(2) (socket -> pipe -> file): both ends non-blocking and close-on-exec,
/// sized to `size` bytes when the system allows it. `ok()` is false when no pipe could be
/// made (out of descriptors, say): the caller copies through user space instead.
class splice_pipe {
 public:
  explicit splice_pipe(std::size_t size) noexcept {
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return;
    read_end_ = fds[0];
    write_end_ = fds[1];
    ::fcntl(write_end_, F_SETPIPE_SZ, static_cast<int>(size));  // best effort: 64 KiB otherwise
  }
  splice_pipe(const splice_pipe&) = delete;
  splice_pipe& operator=(const splice_pipe&) = delete;
  ~splice_pipe() {
    if (read_end_ >= 0) ::close(read_end_);
    if (write_end_ >= 0) ::close(write_end_);
  }
  bool ok() const noexcept { return read_end_ >= 0; }
  int read_end() const noexcept { return read_end_; }
  int write_end() const noexcept { return write_end_; }

 private:
  int read_end_ = -1;
  int write_end_ = -1;
};

/// An allocator that is plain `new`/`delete`, for the operations an idle session keeps
/// pending for minutes (its read wait, its idle deadline). Asio's default recycles the
/// thread's last freed block when it is large enough, so such an operation could sit
/// in a block twice its size for the whole idle time; bound to this allocator
/// (`asio::bind_allocator`), it takes exactly what it needs.
template <class T>
struct exact_allocator {
  using value_type = T;
  exact_allocator() = default;
  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  friend bool operator==(exact_allocator, exact_allocator) noexcept { return true; }
};

/// Completion token that reports errors as values: `auto [ec, n] = co_await op(nothrow);`.
/// Connection resets, EOF and timeouts are normal for a server, not exceptions.
inline constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

/// A deadline on socket operations: when it passes, the socket's pending operations
/// are cancelled (they complete with operation_aborted) and `expired()` turns true.
///
/// One timer, re-armed per operation. Cancelling a timer cannot recall a handler that
/// was already queued with success, so the handler holds the state by shared_ptr and
/// acts only if no re-arm, disarm or destruction came in between (a generation count):
/// it never touches a socket that is gone.
class deadline {
 public:
  explicit deadline(const asio::any_io_executor& ex) : timer_(ex), state_(std::make_shared<state>()) {}
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;
  ~deadline() { ++state_->generation; }

  /// Arms the deadline `d` from now for the operations of `socket`.
  void arm(std::chrono::steady_clock::duration d, asio::ip::tcp::socket& socket) {
    auto generation = ++state_->generation;
    state_->expired = false;
    state_->socket = &socket;
    timer_.expires_after(d);
    timer_.async_wait(asio::bind_allocator(exact_allocator<void>(), [st = state_, generation](std::error_code ec) {
      if (ec || st->generation != generation) return;
      st->expired = true;
      std::error_code ignored;
      st->socket->cancel(ignored);
    }));
  }
  /// Stops watching; a handler already queued becomes a no-op.
  void disarm() {
    ++state_->generation;
    timer_.cancel();
  }
  bool expired() const noexcept { return state_->expired; }

 private:
  struct state {
    std::uint64_t generation = 0;
    bool expired = false;
    asio::ip::tcp::socket* socket = nullptr;
  };
  asio::steady_timer timer_;
  std::shared_ptr<state> state_;
};

}  // namespace coftp::detail
