// coftp/reply.hpp - FTP replies (RFC 959 section 4.2) and their wire format.
//
// A reply is a three-digit code and a text. A text with several lines ('\n'
// separated) is sent as a multi-line reply: "211-first\r\n middle\r\n211 last\r\n".
// The codes have names (`reply_code`), the RFCs' own meanings, with the number beside
// each name; `reply.code` stays the number, so `r.code == 550` reads as it always did.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace coftp {

/// The reply codes coftp sends, named after their meaning in RFC 959 4.2 (and RFC 2228,
/// 2428, 3659, 4217 where those add one). The first digit says how it went: 1 wait for
/// more, 2 done, 3 send the next command, 4 failed this time, 5 failed for good.
enum class reply_code : int {
  opening_data_connection = 150,    ///< file status okay; about to open data connection
  ok = 200,                         ///< command okay
  superfluous = 202,                ///< command not implemented, superfluous at this site
  system_status = 211,              ///< system status, or system help reply (FEAT, STAT)
  directory_status = 212,           ///< STAT of a directory
  file_status = 213,                ///< STAT of a file, SIZE, MDTM
  help = 214,                       ///< help message
  system_type = 215,                ///< NAME system type (SYST)
  service_ready = 220,              ///< service ready for new user
  closing_control = 221,            ///< service closing control connection (QUIT)
  no_transfer = 225,                ///< data connection open; no transfer in progress (ABOR)
  transfer_complete = 226,          ///< closing data connection; requested file action successful
  entering_passive = 227,           ///< entering passive mode (h1,h2,h3,h4,p1,p2)
  entering_extended_passive = 229,  ///< entering extended passive mode (|||port|), RFC 2428
  logged_in = 230,                  ///< user logged in, proceed
  security_accepted = 234,          ///< AUTH TLS accepted, RFC 2228
  file_action_ok = 250,             ///< requested file action okay, completed
  path_created = 257,               ///< "PATHNAME" created (MKD, PWD)
  need_password = 331,              ///< user name okay, need password
  pending = 350,                    ///< requested file action pending further information (REST, RNFR)
  service_not_available = 421,      ///< service not available, closing control connection
  cannot_open_data = 425,           ///< can't open data connection
  transfer_aborted = 426,           ///< connection closed; transfer aborted
  local_error = 451,                ///< requested action aborted: local error in processing
  insufficient_storage = 452,       ///< requested action not taken: insufficient storage space
  syntax_error = 500,               ///< syntax error, command unrecognized
  bad_arguments = 501,              ///< syntax error in parameters or arguments
  not_implemented = 502,            ///< command not implemented
  bad_sequence = 503,               ///< bad sequence of commands
  not_implemented_for_parameter = 504,  ///< command not implemented for that parameter
  protection_required = 521,        ///< data connection cannot be opened with this PROT setting, RFC 4217
  protocol_not_supported = 522,     ///< network protocol not supported, RFC 2428
  not_logged_in = 530,              ///< not logged in
  protection_not_supported = 536,   ///< requested PROT level not supported by mechanism, RFC 2228
  file_unavailable = 550,           ///< requested action not taken: file unavailable, access denied
  quota_exceeded = 552,             ///< requested file action aborted: exceeded storage allocation
  file_name_not_allowed = 553,      ///< requested action not taken: file name not allowed
  invalid_restart = 554,            ///< requested action not taken: invalid REST parameter, RFC 3659
};

/// One FTP reply. `code == 0` means "nothing to send" (a handler that already replied).
struct reply {
  int code = 0;
  std::string text;

  reply() = default;
  // A constructor, not aggregate initialization: g++ 12 destroys a braced aggregate
  // temporary twice when it appears in a co_await expression (`co_await w({220, s})`).
  reply(int c, std::string t) : code(c), text(std::move(t)) {}
  reply(reply_code c, std::string t) : code(static_cast<int>(c)), text(std::move(t)) {}

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
