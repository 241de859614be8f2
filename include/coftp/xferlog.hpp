// coftp/xferlog.hpp - the transfer log in the wu-ftpd/vsftpd "xferlog" format (xferlog(5)),
// which operators' tools (xferstats and its kin) read: one line per upload or download.
//
//   Sat Nov 28 21:32:30 2026 1 127.0.0.1 5 /a.txt b _ o r alice ftp 0 * c
//
// Fields, separated by one space: current-time (5 words, "%a %b %e %H:%M:%S %Y", the day
// padded with a space), transfer-time (whole seconds, at least 1), remote-host, file-size
// (bytes moved), filename, transfer-type (a: TYPE A, b: binary), special-action-flag (_:
// none), direction (o: outgoing, i: incoming), access-mode (a: anonymous, r: real user),
// username, service-name (ftp), authentication-method (0: none), authenticated-user-id
// (*: none), completion-status (c: complete, i: incomplete).
//
// As vsftpd's vsf_log_do_log_wuftpd_format: spaces in the file name become '_', control
// characters '?'; listings are not logged; times are UTC unless asked otherwise (vsftpd's
// default, use_localtime=NO). Unlike vsftpd, an anonymous user is logged by login name
// ("anonymous" or "ftp"), never by the e-mail address given as password: no password of any
// kind ever reaches the log. UTF-8 bytes in names are kept (vsftpd, in the C locale, turns
// them into '?').
#pragma once

#include <coftp/log_file.hpp>
#include <coftp/observer.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

namespace coftp {

/// One xferlog(5) line (without the newline) for `t`, ended at `now`. Listings give "".
/// `local_time` writes the local time instead of UTC.
inline std::string format_xferlog_line(const session_info& s, const transfer_event& t,
                                       std::chrono::system_clock::time_point now, bool local_time = false) {
  if (t.direction == transfer_direction::listing) return {};
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  if (local_time) ::localtime_r(&tt, &tm);
  else ::gmtime_r(&tt, &tm);
  char date[96];
  std::snprintf(date, sizeof date, "%s %s %2d %02d:%02d:%02d %d", days[tm.tm_wday % 7], months[tm.tm_mon % 12],
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);

  // Whole seconds, rounded, at least 1 (vsftpd and wu-ftpd never write 0).
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.duration).count();
  long long seconds = (ms + 500) / 1000;
  if (seconds < 1) seconds = 1;

  std::string name = t.path.empty() ? "/" : t.path;
  for (auto& c : name)
    if (c == ' ') c = '_';
  std::string user = t.user.empty() ? "*" : t.user;
  for (auto& c : user)
    if (c == ' ') c = '_';
  std::string host = s.remote_address.empty() ? "*" : s.remote_address;

  std::string line = date;
  line += ' ' + std::to_string(seconds);
  line += ' ' + host;
  line += ' ' + std::to_string(t.bytes);
  line += ' ' + name;
  line += t.ascii ? " a" : " b";
  line += " _";
  line += t.direction == transfer_direction::upload ? " i" : " o";
  line += t.anonymous ? " a " : " r ";
  line += user;
  line += " ftp 0 *";
  line += t.outcome == transfer_outcome::completed ? " c" : " i";
  detail::replace_unprintable(line);
  return line;
}

/// Observer appending one xferlog(5) line per upload and download to a `log_file`
/// (listings are not logged); default-constructed, it writes nothing. Copies share the
/// file; thread-safe.
///
/// @par Example
/// @code
/// struct my_policies : coftp::default_policies { using observer = coftp::xferlog_observer; };
/// coftp::basic_server<my_policies> server(io, opts, coftp::local_fs("/srv/ftp"), users,
///                                         coftp::xferlog_observer(coftp::log_file::open("/var/log/xferlog")));
/// @endcode
class xferlog_observer : public null_observer {
 public:
  xferlog_observer() = default;
  explicit xferlog_observer(log_file file, bool local_time = false) : file_(std::move(file)), local_time_(local_time) {}

  void on_transfer(const session_info& s, const transfer_event& t) {
    if (!file_) return;
    auto line = format_xferlog_line(s, t, std::chrono::system_clock::now(), local_time_);
    if (!line.empty()) file_->write_line(line);
  }

  /// The log written to, if any.
  const std::optional<log_file>& file() const noexcept { return file_; }

 private:
  std::optional<log_file> file_;
  bool local_time_ = false;
};

}  // namespace coftp
