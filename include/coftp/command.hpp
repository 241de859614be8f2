// coftp/command.hpp - parsing one command line (RFC 959 section 5.3): pure, no I/O.
//
// A line is "VERB[ SP argument]" ended by CRLF (a bare LF is accepted: some scripts
// send one). Telnet IAC sequences (RFC 854), which clients send around ABOR
// ("IAC IP IAC DM ABOR"), are removed; "IAC IAC" stands for a 0xFF byte.
//
// A verb is a letter then letters or digits, at most 15 (RFC 959 verbs are letters; the
// extension verbs clients send, XMD5, XSHA1, XCRC, XSHA256, have digits), folded to upper
// case. `valid_verb` states that shape once, for this parser and for command_table, which
// refuses at compile time a handler whose verb the parser could never produce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace coftp {

/// Why a line is not a usable command.
enum class parse_error {
  none,
  empty,         ///< nothing but white space
  bad_verb,      ///< the verb is not a letter then letters or digits, 1-15 in all
  nul_byte,      ///< a NUL byte in the line
  bad_encoding,  ///< the argument is not valid UTF-8 (RFC 2640)
};

/// A parsed command: the verb in upper case and its argument as sent.
struct command {
  std::string verb;
  std::string argument;
  parse_error error = parse_error::none;

  bool ok() const noexcept { return error == parse_error::none; }
};

/// Longest verb the parser accepts.
inline constexpr std::size_t max_verb_length = 15;

/// True if `verb` is a verb as `parse_command` produces it: 1-15 characters, an
/// upper-case ASCII letter then upper-case letters or digits ("RETR", "XMD5", "XSHA256").
constexpr bool valid_verb(std::string_view verb) noexcept {
  if (verb.empty() || verb.size() > max_verb_length) return false;
  if (!(verb[0] >= 'A' && verb[0] <= 'Z')) return false;
  for (char c : verb)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

static_assert(valid_verb("RETR") && valid_verb("XMD5") && valid_verb("XSHA256") && valid_verb("A") &&
              valid_verb("ABCDEFGHIJKLMNO"));
static_assert(!valid_verb("") && !valid_verb("retr") && !valid_verb("Retr") && !valid_verb("5XMD") &&
              !valid_verb("SITE CHMOD") && !valid_verb("NO_OP") && !valid_verb("ABCDEFGHIJKLMNOP"));

namespace detail {

// Removes telnet commands. RFC 854: IAC (255) introduces a command; WILL, WONT, DO and
// DONT (251-254) take one option byte; IAC IAC is a literal 255.
inline void strip_telnet(std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c != 255) {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) break;
    auto cmd = static_cast<unsigned char>(s[++i]);
    if (cmd == 255) out += s[i];
    else if (cmd >= 251 && cmd <= 254) ++i;
  }
  s.swap(out);
}

inline bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    else if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // overlong forms, surrogates and code points past U+10FFFF
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += n + 1;
  }
  return true;
}

}  // namespace detail

/// Parses one command line, with or without its line ending.
inline command parse_command(std::string_view line) {
  command cmd;
  std::string s(line);
  detail::strip_telnet(s);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (s.find('\0') != std::string::npos) {
    cmd.error = parse_error::nul_byte;
    return cmd;
  }
  std::size_t start = s.find_first_not_of(' ');
  if (start == std::string::npos) {
    cmd.error = parse_error::empty;
    return cmd;
  }
  std::size_t sp = s.find(' ', start);
  std::string_view verb = std::string_view(s).substr(start, sp == std::string::npos ? std::string::npos : sp - start);
  if (verb.size() > max_verb_length) {  // before copying: a line may be one 4 KiB "verb"
    cmd.error = parse_error::bad_verb;
    return cmd;
  }
  for (char c : verb) cmd.verb += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (!valid_verb(cmd.verb)) {
    cmd.verb.clear();
    cmd.error = parse_error::bad_verb;
    return cmd;
  }
  if (sp != std::string::npos) {
    // RFC 959 separates verb and argument by exactly one space; arguments keep
    // their own leading and trailing spaces (file names may have them), but a
    // lone CR inside the line is never part of a name.
    cmd.argument = s.substr(sp + 1);
    if (cmd.argument.find_first_of("\r\n") != std::string::npos) {
      cmd.error = parse_error::bad_encoding;
      return cmd;
    }
    if (!detail::valid_utf8(cmd.argument)) cmd.error = parse_error::bad_encoding;
  }
  return cmd;
}

}  // namespace coftp
