// coftp/commands/common.hpp - what command handlers share: the table of failure
// replies (reply_table.hpp) and argument helpers.
#pragma once

#include <coftp/reply_table.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace coftp {

namespace detail {
/// Splits LIST/NLST arguments: leading words starting with '-' are ls options
/// ("-la"), the rest is the path (which may contain spaces).
inline std::string_view listing_path(std::string_view arg) {
  for (;;) {
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    if (arg.empty() || arg.front() != '-') return arg;
    auto sp = arg.find(' ');
    arg = sp == std::string_view::npos ? std::string_view() : arg.substr(sp + 1);
  }
}

/// True if the ls options of a LIST/NLST argument ask for a recursive listing: a word
/// "-R", "-lR", "-alR" (what `ncftpls -R` and `ls -lR` users send) or "--recursive".
inline bool listing_recursive(std::string_view arg) {
  for (;;) {
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    if (arg.empty() || arg.front() != '-') return false;
    auto sp = arg.find(' ');
    auto word = arg.substr(0, sp);
    if (word == "--recursive" || (!word.starts_with("--") && word.find('R') != std::string_view::npos)) return true;
    arg = sp == std::string_view::npos ? std::string_view() : arg.substr(sp + 1);
  }
}

inline std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}
}  // namespace detail

}  // namespace coftp
