// coftp/listing.hpp - directory listing formats: LIST lines in `ls -l` form (the de-facto
// format every client parses; RFC 959 leaves it open), NLST names, and MDTM timestamps
// (RFC 3659 section 2.3, always UTC).
#pragma once

#include <coftp/storage.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace coftp {

namespace detail {
inline std::tm utc_tm(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}
}  // namespace detail

/// "YYYYMMDDHHMMSS" in UTC, as MDTM and MLST's `modify` fact want.
inline std::string format_timestamp(std::chrono::system_clock::time_point tp) {
  auto tm = detail::utc_tm(tp);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

/// Appends one `ls -l` line (GNU style, CRLF-terminated) for `f` to `out`.
///
/// Like GNU ls, a file modified within the last six months (and not in the future)
/// shows "Mon DD HH:MM", an older one "Mon DD  YYYY". Times are UTC. Owner and group are
/// "ftp": real account names are none of a client's business.
inline void format_list_line(std::string& out, const file_info& f,
                             std::chrono::system_clock::time_point now) {
  char type = f.type == file_type::directory ? 'd' : f.type == file_type::symlink ? 'l' : '-';
  unsigned mode = f.mode != 0 ? f.mode : (f.is_directory() ? 0755u : 0644u);
  char perms[11] = {type};
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) perms[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
  if (mode & 04000) perms[3] = (mode & 0100) ? 's' : 'S';
  if (mode & 02000) perms[6] = (mode & 0010) ? 's' : 'S';
  if (mode & 01000) perms[9] = (mode & 0001) ? 't' : 'T';
  perms[10] = '\0';

  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto tm = detail::utc_tm(f.mtime);
  constexpr auto six_months = std::chrono::seconds(365 * 24 * 3600 / 2);
  bool recent = f.mtime <= now && now - f.mtime < six_months;
  char date[32];
  if (recent)
    std::snprintf(date, sizeof date, "%s %2d %02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                  tm.tm_min);
  else
    std::snprintf(date, sizeof date, "%s %2d  %4d", months[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);

  char head[128];
  std::snprintf(head, sizeof head, "%s %3llu ftp      ftp      %12llu %s ", perms,
                static_cast<unsigned long long>(f.nlink), static_cast<unsigned long long>(f.size), date);
  out += head;
  out += f.name;
  out += "\r\n";
}

}  // namespace coftp
