// coftp/reply.hpp - FTP replies (RFC 959 section 4.2) and their wire format.
//
// A reply is a three-digit code and a text. A text with several lines ('\n'
// separated) is sent as a multi-line reply: "211-first\r\n middle\r\n211 last\r\n".
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace coftp {

/// One FTP reply. `code == 0` means "nothing to send" (a handler that already replied).
struct reply {
  int code = 0;
  std::string text;

  reply() = default;
  // A constructor, not aggregate initialization: g++ 12 destroys a braced aggregate
  // temporary twice when it appears in a co_await expression (`co_await w({220, s})`).
  reply(int c, std::string t) : code(c), text(std::move(t)) {}

  bool empty() const noexcept { return code == 0; }
  bool positive() const noexcept { return code >= 100 && code < 400; }
};

/// Appends the wire form of `r` to `out`.
///
/// RFC 959 4.2: a multi-line reply opens with "xyz-" and closes with "xyz "; inner lines
/// that would start with digits are indented with a space so that no client mistakes
/// them for the closing line. CR and LF inside a line never reach the wire.
inline void format_reply(std::string& out, const reply& r) {
  auto code = std::to_string(r.code);
  auto put_line = [&](std::string_view line) {
    for (char c : line)
      if (c != '\r' && c != '\n') out += c;
    out += "\r\n";
  };
  std::string_view text = r.text;
  auto nl = text.find('\n');
  if (nl == std::string_view::npos) {
    out += code;
    out += ' ';
    put_line(text);
    return;
  }
  out += code;
  out += '-';
  put_line(text.substr(0, nl));
  text.remove_prefix(nl + 1);
  while ((nl = text.find('\n')) != std::string_view::npos) {
    auto line = text.substr(0, nl);
    if (line.size() >= 3 && line.substr(0, 3) == std::string_view(code)) out += ' ';
    else if (!line.empty() && line.front() >= '0' && line.front() <= '9') out += ' ';
    put_line(line);
    text.remove_prefix(nl + 1);
  }
  out += code;
  out += ' ';
  put_line(text);
}

/// The wire form of `r`.
inline std::string format_reply(const reply& r) {
  std::string out;
  format_reply(out, r);
  return out;
}

}  // namespace coftp
