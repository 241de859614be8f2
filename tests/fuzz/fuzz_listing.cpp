// fuzz_listing: the parsers of include/coftp/listing.hpp: OPTS MLST fact lists
// (parse_mlst_facts), MFMT/MDTM timestamps (parse_timestamp) and the glob patterns of
// LIST/NLST (glob_match).
//
// Byte 0 picks the parser. Properties:
// - facts: agrees with a reference (split on ';', names compared ignoring ASCII case),
//   stays within the offered facts, and mlst_fact_names() of the result parses back to it;
// - timestamps: accepted exactly when a reference accepts (14 digits, an optional
//   fraction of 1-9 digits, real calendar date, 23:59:60 at most, inside system_clock's
//   range), with the same instant as timegm(3) plus the fraction to the nanosecond;
//   format_timestamp gives the digits back, with the fraction's when asked for them;
// - glob, small alphabet: agrees with glibc fnmatch(3) plus POSIX's leading-period rule
//   on patterns and names made of "ab.*?[]!^-" (fnmatch's "[." collating symbols and
//   unclosed brackets aside);
// - glob, any bytes: a name matches itself with its metacharacters escaped, "*" matches
//   every name without a leading '.', and a pattern of n '?' every n-byte name without
//   one. glob_match claims O(pattern * name) time: the runner's -timeout catches a
//   pattern that makes it blow up.
#include <coftp/listing.hpp>

#include "check.hpp"

#include <fnmatch.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace {

void check_facts(std::string_view list) {
  unsigned got = coftp::parse_mlst_facts(list);
  unsigned want = 0;
  std::string_view rest = list;
  for (;;) {
    auto semi = rest.find(';');
    std::string name(rest.substr(0, semi));
    for (auto& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    for (auto [bit, known] : coftp::mlst_fact::names)
      if (name == known) want |= bit;
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  FUZZ_CHECK(got == want);
  FUZZ_CHECK((got & ~coftp::mlst_fact::all) == 0);
  FUZZ_CHECK(coftp::parse_mlst_facts(coftp::mlst_fact_names(got)) == got);
}

void check_timestamp(std::string_view s) {
  auto got = coftp::parse_timestamp(s);
  std::string_view digits = s, frac;
  bool ok = true;
  if (auto dot = s.find('.'); dot != std::string_view::npos) {
    digits = s.substr(0, dot);
    frac = s.substr(dot + 1);
    ok = !frac.empty() && frac.size() <= 9 && frac.find_first_not_of("0123456789") == std::string_view::npos;
  }
  ok = ok && digits.size() == 14 && digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (!ok) {
    FUZZ_CHECK(!got);
    return;
  }
  auto num = [&](std::size_t pos, std::size_t len) { return std::stoi(std::string(digits.substr(pos, len))); };
  int y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(8, 2), mi = num(10, 2), sec = num(12, 2);
  static constexpr int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  ok = mo >= 1 && mo <= 12 && d >= 1 && d <= dim[mo - 1] + (mo == 2 && leap) && h <= 23 && mi <= 59 && sec <= 60;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  long long t = ok ? static_cast<long long>(timegm(&tm)) : 0;
  long long ns = 0;
  for (std::size_t i = 0; i < 9; ++i) ns = ns * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  // system_clock (nanoseconds in 64 bits) spans 1677-09-21 to 2262-04-11 23:47:16.854775807.
  constexpr long long lo = -9223372036LL, hi = 9223372036LL;
  ok = ok && t >= lo && t <= hi && !(t == hi && ns > 854775807LL);
  FUZZ_CHECK(got.has_value() == ok);
  if (!got) return;
  auto since = got->time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since);
  FUZZ_CHECK(secs.count() == t);
  FUZZ_CHECK(std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count() == ns);
  if (sec < 60) {
    FUZZ_CHECK(coftp::format_timestamp(*got) == digits);
    if (!frac.empty())
      FUZZ_CHECK(coftp::format_timestamp(*got, static_cast<int>(frac.size())) == s);
  }
}

void check_glob_small(std::string_view in) {
  static constexpr char alphabet[] = "ab.*?[]!^-";
  std::string pat, name;
  bool in_name = false;
  for (unsigned char c : in) {
    if (c == 0xFF) {
      in_name = true;
      continue;
    }
    (in_name ? name : pat) += alphabet[c % (sizeof alphabet - 1)];
  }
  // "[." "[=" "[:" open POSIX collating symbols, equivalence and character classes in
  // fnmatch; coftp has none of them.
  // An unclosed "[x-" is no match at all in glibc, a literal "[x-" in coftp.
  if (pat.find("[.") != std::string::npos) return;
  if (auto open = pat.rfind('['); open != std::string::npos && pat.find(']', open + 1) == std::string::npos) return;
  bool got = coftp::glob_match(pat, name);
  // The leading-period rule is applied here rather than with FNM_PERIOD: glibc 2.36
  // forgets it was consumed after "*?" and refuses fnmatch("*?[.]a", "-.a", FNM_PERIOD).
  bool hidden = !name.empty() && name.front() == '.' && (pat.empty() || pat.front() != '.');
  bool want = !hidden && fnmatch(pat.c_str(), name.c_str(), 0) == 0;
  if (got != want) std::fprintf(stderr, "pattern '%s' name '%s': coftp %d fnmatch %d\n", pat.c_str(), name.c_str(), got, want);
  FUZZ_CHECK(got == want);
}

void check_glob_bytes(std::string_view in) {
  if (in.size() < 2) return;
  std::size_t split = (static_cast<unsigned char>(in[0]) | static_cast<unsigned char>(in[1]) << 8) % (in.size() - 1);
  // Names come from storage: at most NAME_MAX (255) bytes on disk.
  std::string_view pat = in.substr(2, split), name = in.substr(2 + split, 255);
  (void)coftp::glob_match(pat, name);  // any pattern against any name: only time and memory are watched
  std::string escaped;
  for (char c : name) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') escaped += '\\';
    escaped += c;
  }
  bool hidden = !name.empty() && name.front() == '.';
  FUZZ_CHECK(coftp::glob_match(escaped, name));
  FUZZ_CHECK(coftp::glob_match("*", name) == !hidden);
  FUZZ_CHECK(coftp::glob_match(std::string(name.size(), '?'), name) == !hidden);
  FUZZ_CHECK(!coftp::glob_match(std::string(name.size() + 1, '?'), name));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: check_facts(in); break;
    case 1: check_timestamp(in); break;
    case 2: check_glob_small(in); break;
    case 3: check_glob_bytes(in); break;
  }
  return 0;
}
