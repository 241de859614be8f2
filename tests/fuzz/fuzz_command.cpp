// fuzz_command: coftp::parse_command (include/coftp/command.hpp), the parser of every
// line a client sends.
//
// Properties checked on every input:
// - a parsed command has a verb of 1-15 upper-case ASCII letters and digits, a letter
//   first, that coftp::valid_verb (what command_table checks handlers with) accepts;
// - its argument has no NUL, CR, LF or IAC byte that is well-formed UTF-8 (checked against the table of
//   well-formed sequences in Unicode 15 table 3-7, written independently here);
// - detail::valid_utf8 agrees with that table on the raw input;
// - printing a parsed command back ("VERB argument") parses to the same command;
// - a line ending (CRLF or LF) does not change what a line means.
#include <coftp/command.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

// Unicode table 3-7, byte ranges of the well-formed sequences.
bool reference_utf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    auto left = s.size() - i;
    unsigned char c = b(0);
    if (c <= 0x7F) { i += 1; continue; }
    if (in(c, 0xC2, 0xDF)) {
      if (left < 2 || !in(b(1), 0x80, 0xBF)) return false;
      i += 2;
      continue;
    }
    if (in(c, 0xE0, 0xEF)) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      if (left < 3 || !in(b(1), lo, hi) || !in(b(2), 0x80, 0xBF)) return false;
      i += 3;
      continue;
    }
    if (in(c, 0xF0, 0xF4)) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      if (left < 4 || !in(b(1), lo, hi) || !in(b(2), 0x80, 0xBF) || !in(b(3), 0x80, 0xBF)) return false;
      i += 4;
      continue;
    }
    return false;
  }
  return true;
}

bool same(const coftp::command& a, const coftp::command& b) {
  return a.error == b.error && a.verb == b.verb && a.argument == b.argument;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);

  FUZZ_CHECK(coftp::detail::valid_utf8(line) == reference_utf8(line));

  auto cmd = coftp::parse_command(line);
  if (cmd.ok()) {
    FUZZ_CHECK(!cmd.verb.empty() && cmd.verb.size() <= 15);
    FUZZ_CHECK(cmd.verb[0] >= 'A' && cmd.verb[0] <= 'Z');
    for (char c : cmd.verb) FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    FUZZ_CHECK(coftp::valid_verb(cmd.verb));
    FUZZ_CHECK(cmd.argument.find_first_of(std::string_view("\0\r\n\xff", 4)) == std::string::npos);
    FUZZ_CHECK(reference_utf8(cmd.argument));

    std::string printed = cmd.verb;
    if (!cmd.argument.empty()) printed += ' ' + cmd.argument;
    FUZZ_CHECK(same(coftp::parse_command(printed), cmd));
    FUZZ_CHECK(same(coftp::parse_command(printed + "\r\n"), cmd));
  }

  std::string crlf(line);
  crlf += "\r\n";
  FUZZ_CHECK(same(coftp::parse_command(crlf), cmd));
  crlf.pop_back();
  crlf.back() = '\n';
  FUZZ_CHECK(same(coftp::parse_command(crlf), cmd));
  return 0;
}
