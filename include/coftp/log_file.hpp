// coftp/log_file.hpp - log_file: an append-only text log shared by threads (a file, or
// standard error), for the session log and the transfer log (xferlog).
//
// A file is opened with O_APPEND (and O_CREAT, mode 0600 as vsftpd does), so several
// writers, and logrotate's copytruncate, never overwrite each other's lines. Each line is
// handed to the kernel in one write(2) as soon as it is written: nothing is buffered in
// the process, nothing is lost when it is killed. Open logs before dropping privileges
// (coftp/privileges.hpp): the descriptor stays valid afterwards.
#pragma once

#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace coftp {

/// An append-only log: one `write_line` is one line, written at once. Copies share the
/// same file; thread-safe.
class log_file {
 public:
  /// Opens (creating it with mode 0600 if missing) `path` for appending.
  /// @throws std::system_error if it cannot be opened.
  static log_file open(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "cannot open log file " + path);
    return log_file(std::make_shared<state>(fd, true, path));
  }

  /// Standard error (not closed by the log).
  static log_file standard_error() { return log_file(std::make_shared<state>(STDERR_FILENO, false, "")); }

  /// Appends `line` and a newline in one write(2). Never throws; a failed write (full
  /// disk) loses the line, as in vsftpd and syslog.
  void write_line(std::string_view line) const {
    std::string out;
    out.reserve(line.size() + 1);
    out.append(line);
    out += '\n';
    std::lock_guard lock(state_->mutex);
    std::string_view rest = out;
    while (!rest.empty()) {
      ssize_t n = ::write(state_->fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// Opens the file's path again (after logrotate moved it away, e.g. on SIGHUP) and
  /// writes there from now on. Returns false, and keeps writing to the old file, if it
  /// cannot be opened (e.g. after a privilege drop, a log only root may create).
  bool reopen() const {
    std::error_code ignored;
    return reopen(ignored);
  }
  /// The same, telling why it failed in `ec` (errno: EACCES, ENOENT...).
  bool reopen(std::error_code& ec) const {
    ec.clear();
    if (!state_->owned) return true;
    int fd = ::open(state_->path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
      ec.assign(errno, std::system_category());
      return false;
    }
    std::lock_guard lock(state_->mutex);
    ::close(state_->fd);
    state_->fd = fd;
    return true;
  }

  /// The file's path ("" for standard error).
  const std::string& path() const noexcept { return state_->path; }

 private:
  struct state {
    std::mutex mutex;
    int fd;
    bool owned;
    std::string path;
    state(int f, bool o, std::string p) : fd(f), owned(o), path(std::move(p)) {}
    state(const state&) = delete;
    state& operator=(const state&) = delete;
    ~state() {
      if (owned) ::close(fd);
    }
  };
  explicit log_file(std::shared_ptr<state> s) : state_(std::move(s)) {}
  std::shared_ptr<state> state_;
};

namespace detail {
// Control characters (terminal escapes, a CR that would fake a line) become '?', as
// vsftpd's str_replace_unprintable does. Bytes >= 0x80 are kept: names are UTF-8 (RFC
// 2640), already validated by the command parser.
inline void replace_unprintable(std::string& s) {
  for (auto& c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
}
}  // namespace detail

}  // namespace coftp
