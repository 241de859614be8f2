// coftp/session_log.hpp - the session log: one line per connection, login, command,
// reply, transfer and disconnection, with a UTC timestamp and the session id, written to
// a log_file (standard error or a file).
//
//   2026-11-28T21:32:30.123Z [7] [+] Client connected: (127.0.0.1, 50432)
//   2026-11-28T21:32:30.124Z [7] [CLIENT] USER alice
//   2026-11-28T21:32:30.124Z [7] [SERVER] 331 Username OK, need password
//   2026-11-28T21:32:30.125Z [7] [CLIENT] PASS ****
//   2026-11-28T21:32:30.125Z [7] [LOGIN] alice: ok
//   2026-11-28T21:32:31.002Z [7] [XFER] download /a.txt: 5 bytes in 1 ms, completed
//   2026-11-28T21:32:31.010Z [7] [-] Client disconnected: (127.0.0.1, 50432)
//
// Passwords never appear: the session masks PASS before any observer sees it, and this
// log masks the arguments of PASS and ACCT (RFC 959: account information, often a second
// password) once more. Control characters a client sent (terminal escapes) become '?'.
// Multi-line replies are logged by their first line.
#pragma once

#include <coftp/command.hpp>
#include <coftp/log_file.hpp>
#include <coftp/observer.hpp>
#include <coftp/reply.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace coftp {

/// "2026-11-28T21:32:30.123Z [id] text", control characters in `text` replaced by '?'.
inline std::string format_session_log_line(std::chrono::system_clock::time_point now, std::uint64_t session_id,
                                           std::string_view text) {
  using namespace std::chrono;
  auto since_epoch = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t tt = static_cast<std::time_t>(since_epoch / 1000);
  auto ms = since_epoch % 1000;
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char stamp[96];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ [%llu] ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms),
                static_cast<unsigned long long>(session_id));
  std::string body(text);
  detail::replace_unprintable(body);
  return stamp + body;
}

/// Observer writing the session log to a `log_file`; default-constructed, it writes
/// nothing (a quiet server). Copies share the file; thread-safe.
class session_log_observer : public null_observer {
 public:
  session_log_observer() = default;
  explicit session_log_observer(log_file file) : file_(std::move(file)) {}

  void on_connect(const session_info& s) {
    write(s, "[+] Client connected: (" + s.remote_address + ", " + std::to_string(s.remote_port) + ")");
  }
  void on_command(const session_info& s, const command& c) {
    std::string arg = c.argument;
    if ((c.verb == "PASS" || c.verb == "ACCT") && !arg.empty()) arg = "****";
    write(s, "[CLIENT] " + c.verb + (arg.empty() ? "" : " " + arg));
  }
  void on_reply(const session_info& s, const reply& r) {
    write(s, "[SERVER] " + std::to_string(r.code) + " " + r.text.substr(0, r.text.find('\n')));
  }
  void on_login(const session_info& s, std::string_view user, bool success) {
    write(s, "[LOGIN] " + std::string(user) + (success ? ": ok" : ": failed"));
  }
  void on_transfer(const session_info& s, const transfer_event& t) {
    static constexpr const char* directions[] = {"download", "upload", "listing"};
    static constexpr const char* outcomes[] = {"completed", "aborted", "connection lost", "timed out",
                                               "storage error"};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.duration).count();
    write(s, std::string("[XFER] ") + directions[int(t.direction)] + " " + t.path + ": " + std::to_string(t.bytes) +
                 " bytes in " + std::to_string(ms) + " ms, " + outcomes[int(t.outcome)]);
  }
  void on_disconnect(const session_info& s) {
    write(s, "[-] Client disconnected: (" + s.remote_address + ", " + std::to_string(s.remote_port) + ")");
  }

  void on_refused(const session_info& s, refusal why) {
    static constexpr const char* reasons[] = {"denied by the allow/deny lists", "banned after failed logins",
                                              "too many sessions", "out of file descriptors",
                                              "no valid PROXY protocol header"};
    write(s, "[!] Refused " + s.remote_address + ": " + reasons[int(why)]);
  }
  void on_ban(const session_info& s, std::chrono::milliseconds d) {
    write(s, "[!] Banned " + s.remote_address + " for " + std::to_string(d.count() / 1000) +
                 " s after failed logins");
  }

  /// The log written to, if any.
  const std::optional<log_file>& file() const noexcept { return file_; }

 private:
  void write(const session_info& s, std::string_view text) {
    if (file_) file_->write_line(format_session_log_line(std::chrono::system_clock::now(), s.id, text));
  }
  std::optional<log_file> file_;
};

}  // namespace coftp
