// coftp/session_log.hpp - the session log: one line per connection, login, command,
// reply, transfer and disconnection, with a UTC timestamp and the session id, written to
// a log_file (standard error or a file), as text for people (the default) or as JSON
// Lines for log collectors (log_format::json).
//
//   2026-11-28T21:32:30.123Z [7] [+] Client connected: (127.0.0.1, 50432)
//   2026-11-28T21:32:30.124Z [7] [CLIENT] USER alice
//   2026-11-28T21:32:30.124Z [7] [SERVER] 331 Username OK, need password
//   2026-11-28T21:32:30.125Z [7] [CLIENT] PASS ****
//   2026-11-28T21:32:30.125Z [7] [LOGIN] alice: ok
//   2026-11-28T21:32:30.125Z [8] [LOGIN] (127.0.0.1, 50434) mallory: failed
//   2026-11-28T21:32:31.002Z [7] [XFER] download /a.txt: 5 bytes in 1 ms, completed
//   2026-11-28T21:32:31.010Z [7] [-] Client disconnected: (127.0.0.1, 50432)
//
// Passwords never appear: the session masks PASS before any observer sees it, and this
// log masks the arguments of PASS and ACCT (RFC 959: account information, often a second
// password) once more. Control characters a client sent (terminal escapes) become '?'.
// Multi-line replies are logged by their first line.
//
// A failed login names the client's address before the user name the client chose, so
// that a filter such as fail2ban's (examples/coftp-server/fail2ban/) reads the address
// at a place no client text can reach: the line starts with what the server writes
// ("[LOGIN] (address, port) ") and ends with it (": failed"); a successful login ends
// with ": ok", whatever the name. Every other line puts client text after a tag.
//
// The JSON format writes one object per line, its first members always in this order:
//
//   {"time":"2026-11-28T21:32:30.125Z","session":8,"address":"127.0.0.1","port":50434,
//    "event":"login","outcome":"failed","user":"mallory"}
//
// then "user" once a login succeeded (remembered per session until USER, REIN, a failed
// login or the disconnection) and the event's own members:
//   connect, disconnect   -
//   command               "command" (the verb), "argument" (if any; "****" for PASS, ACCT)
//   reply                 "code", "text" (the first line)
//   login                 "outcome" ("ok", "failed"), "user" (the name tried)
//   transfer              "user", "direction" ("download", "upload", "listing"), "path",
//                         "bytes", "duration_ms", "outcome" ("completed", "aborted",
//                         "connection_lost", "timed_out", "storage_error"), "type"
//                         ("ascii", "binary"), "anonymous"
//   refused               "reason" ("denied", "banned", "too_many_sessions",
//                         "out_of_descriptors", "bad_proxy_header"), "message"; session 0
//                         when refused at connect
//   ban                   "reason" ("failed_logins"), "duration_ms"
// Client text is escaped by detail::append_json_string: every line is valid JSON, with
// no control character and no invalid UTF-8 (U+FFFD instead), whatever the client sent.
#pragma once

#include <coftp/command.hpp>
#include <coftp/detail/json.hpp>
#include <coftp/log_file.hpp>
#include <coftp/observer.hpp>
#include <coftp/reply.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace coftp {

/// The session log's formats.
enum class log_format {
  text,  ///< "2026-11-28T21:32:30.123Z [7] [CLIENT] USER alice", for people (the default)
  json,  ///< one JSON object per line (JSON Lines), for log collectors
};

/// "text" or "json" (e.g. a command line's `--log-format`); nullopt for anything else.
inline std::optional<log_format> parse_log_format(std::string_view name) noexcept {
  if (name == "text") return log_format::text;
  if (name == "json") return log_format::json;
  return std::nullopt;
}

namespace detail {
// "2026-11-28T21:32:30.123Z": UTC, milliseconds (RFC 3339).
inline std::string utc_timestamp(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  auto since_epoch = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t tt = static_cast<std::time_t>(since_epoch / 1000);
  auto ms = since_epoch % 1000;
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return stamp;
}
}  // namespace detail

/// "2026-11-28T21:32:30.123Z [id] text", control characters in `text` replaced by '?'.
inline std::string format_session_log_line(std::chrono::system_clock::time_point now, std::uint64_t session_id,
                                           std::string_view text) {
  std::string body(text);
  detail::replace_unprintable(body);
  return detail::utc_timestamp(now) + " [" + std::to_string(session_id) + "] " + body;
}

/// Observer writing the session log to a `log_file`, as text or JSON (see the file
/// comment); default-constructed, it writes nothing (a quiet server). Copies share the
/// file and the names of logged-in users; thread-safe.
///
/// @par Example
/// @code
/// auto format = coftp::parse_log_format(flag).value_or(coftp::log_format::text);
/// coftp::session_log_observer log(coftp::log_file::open("/var/log/coftp.log"), format);
/// @endcode
class session_log_observer : public null_observer {
 public:
  session_log_observer() = default;
  /// Writes to `file` in `format`.
  explicit session_log_observer(log_file file, log_format format = log_format::text)
      : file_(std::move(file)),
        format_(format),
        users_(format == log_format::json ? std::make_shared<user_names>() : nullptr) {}

  void on_connect(const session_info& s) {
    if (json()) return write_json(begin(s, "connect"));
    write(s, "[+] Client connected: (" + s.remote_address + ", " + std::to_string(s.remote_port) + ")");
  }
  void on_command(const session_info& s, const command& c) {
    std::string arg = c.argument;
    if ((c.verb == "PASS" || c.verb == "ACCT") && !arg.empty()) arg = "****";
    if (json()) {
      if (c.verb == "USER" || c.verb == "REIN") forget_user(s);  // both log the user out
      auto o = begin(s, "command");
      add_user(o, s);
      o.add("command", c.verb);
      if (!arg.empty()) o.add("argument", arg);
      return write_json(std::move(o));
    }
    write(s, "[CLIENT] " + c.verb + (arg.empty() ? "" : " " + arg));
  }
  void on_reply(const session_info& s, const reply& r) {
    auto first_line = r.text.substr(0, r.text.find('\n'));
    if (json()) {
      auto o = begin(s, "reply");
      add_user(o, s);
      o.add("code", r.code).add("text", first_line);
      return write_json(std::move(o));
    }
    write(s, "[SERVER] " + std::to_string(r.code) + " " + first_line);
  }
  void on_login(const session_info& s, std::string_view user, bool success) {
    if (json()) {
      if (success) {
        remember_user(s, user);
      } else {
        forget_user(s);
      }
      auto o = begin(s, "login");
      o.add("outcome", success ? "ok" : "failed").add("user", user);  // "outcome" first: see the file comment
      return write_json(std::move(o));
    }
    if (success) return write(s, "[LOGIN] " + std::string(user) + ": ok");
    // The address before the client's text, ": failed" after it: see the file comment.
    write(s, "[LOGIN] (" + s.remote_address + ", " + std::to_string(s.remote_port) + ") " + std::string(user) +
                 ": failed");
  }
  void on_transfer(const session_info& s, const transfer_event& t) {
    static constexpr const char* directions[] = {"download", "upload", "listing"};
    static constexpr const char* outcomes[] = {"completed", "aborted", "connection lost", "timed out",
                                               "storage error"};
    static constexpr const char* outcome_names[] = {"completed", "aborted", "connection_lost", "timed_out",
                                                    "storage_error"};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.duration).count();
    if (json()) {
      auto o = begin(s, "transfer");
      if (!t.user.empty()) o.add("user", t.user);
      o.add("direction", directions[int(t.direction)])
          .add("path", t.path)
          .add("bytes", t.bytes)
          .add("duration_ms", ms)
          .add("outcome", outcome_names[int(t.outcome)])
          .add("type", t.ascii ? "ascii" : "binary")
          .add("anonymous", t.anonymous);
      return write_json(std::move(o));
    }
    write(s, std::string("[XFER] ") + directions[int(t.direction)] + " " + t.path + ": " + std::to_string(t.bytes) +
                 " bytes in " + std::to_string(ms) + " ms, " + outcomes[int(t.outcome)]);
  }
  void on_disconnect(const session_info& s) {
    if (json()) {
      auto o = begin(s, "disconnect");
      add_user(o, s);
      write_json(std::move(o));
      return forget_user(s);
    }
    write(s, "[-] Client disconnected: (" + s.remote_address + ", " + std::to_string(s.remote_port) + ")");
  }

  void on_refused(const session_info& s, refusal why) {
    static constexpr const char* reasons[] = {"denied by the allow/deny lists", "banned after failed logins",
                                              "too many sessions", "out of file descriptors",
                                              "no valid PROXY protocol header"};
    static constexpr const char* reason_names[] = {"denied", "banned", "too_many_sessions", "out_of_descriptors",
                                                   "bad_proxy_header"};
    if (json()) {
      auto o = begin(s, "refused");
      add_user(o, s);
      o.add("reason", reason_names[int(why)]).add("message", reasons[int(why)]);
      return write_json(std::move(o));
    }
    write(s, "[!] Refused " + s.remote_address + ": " + reasons[int(why)]);
  }
  void on_ban(const session_info& s, std::chrono::milliseconds d) {
    if (json()) {
      auto o = begin(s, "ban");
      o.add("reason", "failed_logins").add("duration_ms", d.count());
      return write_json(std::move(o));
    }
    write(s, "[!] Banned " + s.remote_address + " for " + std::to_string(d.count() / 1000) +
                 " s after failed logins");
  }

  /// The log written to, if any.
  const std::optional<log_file>& file() const noexcept { return file_; }
  /// The format written.
  log_format format() const noexcept { return format_; }

 private:
  // The user logged in on each session, for the JSON lines' "user" (session_info has
  // none). Shared by copies, as the observer's calls come from every session's strand.
  struct user_names {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::string> by_session;
  };

  bool json() const noexcept { return format_ == log_format::json && file_; }

  void write(const session_info& s, std::string_view text) {
    if (file_) file_->write_line(format_session_log_line(std::chrono::system_clock::now(), s.id, text));
  }

  // The members every JSON line starts with, always in this order (the fail2ban filter
  // and the file comment rely on it).
  static detail::json_object begin(const session_info& s, std::string_view event) {
    detail::json_object o;
    o.add("time", detail::utc_timestamp(std::chrono::system_clock::now()))
        .add("session", s.id)
        .add("address", s.remote_address)
        .add("port", s.remote_port)
        .add("event", event);
    return o;
  }
  void write_json(detail::json_object&& o) { file_->write_line(std::move(o).str()); }

  void add_user(detail::json_object& o, const session_info& s) const {
    if (s.id == 0) return;  // refused at connect: no session
    std::lock_guard lock(users_->mutex);
    auto it = users_->by_session.find(s.id);
    if (it != users_->by_session.end()) o.add("user", it->second);
  }
  void remember_user(const session_info& s, std::string_view user) {
    std::lock_guard lock(users_->mutex);
    users_->by_session.insert_or_assign(s.id, std::string(user));
  }
  void forget_user(const session_info& s) {
    std::lock_guard lock(users_->mutex);
    users_->by_session.erase(s.id);
  }

  std::optional<log_file> file_;
  log_format format_ = log_format::text;
  std::shared_ptr<user_names> users_;
};

}  // namespace coftp
