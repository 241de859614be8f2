// coftp/listing.hpp - directory listing formats: LIST lines in `ls -l` form (the de-facto
// format every client parses; RFC 959 leaves it open), MLSD/MLST fact lines (RFC 3659
// section 7), MDTM timestamps (RFC 3659 section 2.3, always UTC), and the glob patterns
// that NLST and LIST accept in their last path component.
#pragma once

#include <coftp/permissions.hpp>
#include <coftp/storage.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace coftp {

namespace detail {
// The second `tp` falls in: rounded down, also before 1970 (to_time_t rounds toward zero,
// which would make 1969-12-31 23:59:59.5 a second of 1970).
inline std::time_t floor_time_t(std::chrono::system_clock::time_point tp) {
  return static_cast<std::time_t>(std::chrono::floor<std::chrono::seconds>(tp.time_since_epoch()).count());
}
inline std::tm utc_tm(std::chrono::system_clock::time_point tp) {
  std::time_t t = floor_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}
}  // namespace detail

/// "YYYYMMDDHHMMSS" in UTC, as MDTM and MLST's `modify` fact show it; with
/// `fraction_digits` (1-9), followed by "." and that many digits of the second's
/// fraction, cut, never rounded (RFC 3659 2.3 time-val: "YYYYMMDDHHMMSS.sss").
///
/// MDTM and the `modify` fact show whole seconds, as vsftpd and ProFTPD do: clients and
/// scripts read them as 14 digits (Python's `strptime(v, "%Y%m%d%H%M%S")` fails on a
/// fraction), and RFC 3659 lets a server cut precision, never add it. The stored time
/// keeps what MFMT set, nanoseconds included where the backend can.
inline std::string format_timestamp(std::chrono::system_clock::time_point tp, int fraction_digits = 0) {
  auto tm = detail::utc_tm(tp);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (fraction_digits > 0 && n > 0) {
    using namespace std::chrono;
    auto since = tp.time_since_epoch();
    auto ns = duration_cast<nanoseconds>(since - floor<seconds>(since)).count();  // 0 to 999999999
    char frac[16];
    std::snprintf(frac, sizeof frac, "%09lld", static_cast<long long>(ns));
    frac[fraction_digits > 9 ? 9 : fraction_digits] = '\0';
    std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), ".%s", frac);
  }
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

/// Parses "YYYYMMDDHHMMSS" in UTC, with an optional fraction of a second of 1-9 digits
/// ("YYYYMMDDHHMMSS.sss", RFC 3659 2.3), as MFMT sends it; the fraction is kept, to the
/// nanosecond. Nullopt for anything else, out-of-range fields included.
inline std::optional<std::chrono::system_clock::time_point> parse_timestamp(std::string_view s) {
  long long frac_ns = 0;
  if (auto dot = s.find('.'); dot != std::string_view::npos) {
    auto frac = s.substr(dot + 1);
    if (frac.empty() || frac.size() > 9 || frac.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    for (std::size_t i = 0; i < 9; ++i) frac_ns = frac_ns * 10 + (i < frac.size() ? frac[i] - '0' : 0);
    s = s.substr(0, dot);
  }
  if (s.size() != 14 || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  using namespace std::chrono;
  year_month_day ymd{year(num(0, 4)), month(unsigned(num(4, 2))), day(unsigned(num(6, 2)))};
  int h = num(8, 2), mi = num(10, 2), sec = num(12, 2);
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  // system_clock counts nanoseconds in 64 bits: it ends in 2262 and starts in 1677.
  // A time beyond that is refused rather than wrapped into another century.
  auto secs = sys_days(ymd).time_since_epoch() + hours(h) + minutes(mi) + seconds(sec);
  constexpr auto max = system_clock::time_point::max().time_since_epoch();
  if (secs > duration_cast<seconds>(max) || secs < duration_cast<seconds>(system_clock::time_point::min().time_since_epoch()))
    return std::nullopt;
  auto whole = duration_cast<system_clock::duration>(secs);
  auto fraction = duration_cast<system_clock::duration>(nanoseconds(frac_ns));
  if (whole > max - fraction) return std::nullopt;  // the last second of the clock's range
  return system_clock::time_point(whole + fraction);
}

/// The facts of RFC 3659 section 7.5 that coftp offers, as bits; `OPTS MLST` selects a
/// subset of them.
namespace mlst_fact {
inline constexpr unsigned type = 1, size = 2, modify = 4, perm = 8, unique = 16;
inline constexpr unsigned defaults = type | size | modify | perm;  ///< the starred facts of FEAT
inline constexpr unsigned all = defaults | unique;
inline constexpr std::pair<unsigned, std::string_view> names[] = {
    {type, "type"}, {size, "size"}, {modify, "modify"}, {perm, "perm"}, {unique, "unique"}};
}  // namespace mlst_fact

/// RFC 3659 7.9: "OPTS MLST type;size;" selects facts; unknown ones are ignored and
/// names are case-insensitive. An empty list selects none.
inline unsigned parse_mlst_facts(std::string_view list) {
  unsigned out = 0;
  while (!list.empty()) {
    auto semi = list.find(';');
    auto name = list.substr(0, semi);
    list = semi == std::string_view::npos ? std::string_view() : list.substr(semi + 1);
    for (auto [bit, known] : mlst_fact::names) {
      bool same = name.size() == known.size();
      for (std::size_t i = 0; same && i < name.size(); ++i)
        same = (name[i] | 0x20) == known[i];
      if (same) out |= bit;
    }
  }
  return out;
}

/// "type;size;" for a fact set, in canonical order (the OPTS MLST reply).
inline std::string mlst_fact_names(unsigned facts) {
  std::string out;
  for (auto [bit, name] : mlst_fact::names)
    if (facts & bit) {
      out += name;
      out += ';';
    }
  return out;
}

/// How an MLSD entry relates to the listed directory (RFC 3659 7.5.1).
enum class mlst_entry { normal, cdir, pdir };

/// Appends one MLSx line "fact=value;...; name" to `out` (no line ending: MLSD adds
/// CRLF, MLST's control reply frames it). The `perm` fact (RFC 3659 7.5.5) shows what
/// `rights` let the user do with the entry. Files: a (APPE) and w (STOR): store;
/// d (DELE): remove; f (RNFR): rename; r (RETR): retrieve. Directories: c (STOR
/// into it): store; d (RMD): remove_dir; f: rename; m (MKD in it): make_dir; p (DELE
/// in it): remove; e (CWD): always; l (LIST): list.
inline void format_facts(std::string& out, const file_info& f, unsigned facts, permissions rights,
                         std::string_view name, mlst_entry kind = mlst_entry::normal) {
  bool dir = f.is_directory();
  if (facts & mlst_fact::type) {
    out += "type=";
    out += kind == mlst_entry::cdir ? "cdir"
           : kind == mlst_entry::pdir ? "pdir"
           : dir                      ? "dir"
           : f.is_regular()           ? "file"
                                      : "OS.unix=other";
    out += ';';
  }
  if ((facts & mlst_fact::size) && !dir) {
    out += "size=";
    out += std::to_string(f.size);
    out += ';';
  }
  if ((facts & mlst_fact::modify) && f.mtime.time_since_epoch().count() != 0) {
    out += "modify=";
    out += format_timestamp(f.mtime);
    out += ';';
  }
  if (facts & mlst_fact::perm) {
    out += "perm=";
    auto letter = [&](permissions need, char c) {
      if (allows(rights, need)) out += c;
    };
    if (dir) {
      letter(permissions::store, 'c');
      letter(permissions::remove_dir, 'd');
      letter(permissions::rename, 'f');
      letter(permissions::make_dir, 'm');
      letter(permissions::remove, 'p');
      out += 'e';
      letter(permissions::list, 'l');
    } else {
      letter(permissions::store, 'a');
      letter(permissions::remove, 'd');
      letter(permissions::rename, 'f');
      letter(permissions::store, 'w');
      letter(permissions::retrieve, 'r');
    }
    out += ';';
  }
  if ((facts & mlst_fact::unique) && !f.unique.empty()) {
    out += "unique=";
    out += f.unique;
    out += ';';
  }
  out += ' ';
  out += name;
}

/// The form of coftp 0.1, with two rights: `can_read` stands for permissions::read,
/// `can_write` for permissions::write.
inline void format_facts(std::string& out, const file_info& f, unsigned facts, bool can_read, bool can_write,
                         std::string_view name, mlst_entry kind = mlst_entry::normal) {
  auto rights = (can_read ? permissions::read : permissions::none) | (can_write ? permissions::write : permissions::none);
  format_facts(out, f, facts, rights, name, kind);
}

/// True when `s` holds a glob metacharacter: `*`, `?` or `[`.
inline bool has_glob(std::string_view s) noexcept { return s.find_first_of("*?[") != std::string_view::npos; }

/// Matches one path component against a shell pattern (`*`, `?`, `[abc]`, `[a-z]`,
/// `[!x]`, and `\` escapes), like fnmatch(3) with FNM_PERIOD: a leading '.' is only
/// matched by a literal '.'. Runs in O(pattern * name) at worst (no backtracking
/// explosion on "*a*a*a*b").
inline bool glob_match(std::string_view pat, std::string_view name) noexcept {
  if (!name.empty() && name.front() == '.' && (pat.empty() || pat.front() != '.')) return false;
  // A '[' is a class only if a ']' follows it. Known once, so that an unclosed '[' costs
  // O(1), not a scan to the end of the pattern at every try ("*[[[[...x" against a name
  // of '[': O(pattern^2 * name) before; tests/fuzz/fuzz_listing checks it).
  const std::size_t last_close = pat.rfind(']');
  // Matches the single character class or literal at pat[p]; returns the length of
  // the pattern element consumed, or 0 when `c` does not match it.
  auto element = [&](std::size_t p, char c) -> std::size_t {
    if (pat[p] == '?') return 1;
    if (pat[p] == '\\' && p + 1 < pat.size()) return pat[p + 1] == c ? 2 : 0;
    if (pat[p] == '[') {
      std::size_t q = p + 1;
      bool negate = q < pat.size() && (pat[q] == '!' || pat[q] == '^');
      if (negate) ++q;
      std::size_t start = q;
      if (last_close == std::string_view::npos || last_close <= start) return pat[p] == c ? 1 : 0;  // a literal '['
      bool hit = false;
      while (q < pat.size() && (pat[q] != ']' || q == start)) {
        char lo = pat[q];
        if (q + 2 < pat.size() && pat[q + 1] == '-' && pat[q + 2] != ']') {
          if (lo <= c && c <= pat[q + 2]) hit = true;
          q += 3;
        } else {
          if (lo == c) hit = true;
          ++q;
        }
      }
      if (q >= pat.size()) return pat[p] == c ? 1 : 0;  // no closing ']': a literal '['
      return hit != negate ? q - p + 1 : 0;
    }
    return pat[p] == c ? 1 : 0;
  };
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = ++p;
      resume = n;
      continue;
    }
    if (p < pat.size()) {
      if (auto len = element(p, name[n])) {
        p += len;
        ++n;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    p = star;
    n = ++resume;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

}  // namespace coftp
