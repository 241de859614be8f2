// coftp/commands/common.hpp - what command handlers share: the one table that maps
// storage errors to FTP replies, and argument helpers.
#pragma once

#include <coftp/error.hpp>
#include <coftp/reply.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace coftp {

/// The reply for a storage error (RFC 959 4.2.2 codes; libunftp's one-match idea).
/// `overrides` lets a handler word a case its own way, e.g. {storage_errc::not_found,
/// "Directory not found"} for CWD; the code stays the table's.
inline reply reply_for(const std::error_code& ec,
                       std::initializer_list<std::pair<storage_errc, std::string_view>> overrides = {}) {
  auto kind = classify(ec);
  reply r{451, "Local error in processing"};
  switch (kind) {
    case storage_errc::not_found: r = {550, "File not found"}; break;
    case storage_errc::not_a_directory: r = {550, "Not a directory"}; break;
    case storage_errc::is_a_directory: r = {550, "Is a directory"}; break;
    case storage_errc::already_exists: r = {550, "Already exists"}; break;
    case storage_errc::not_empty: r = {550, "Directory not empty"}; break;
    case storage_errc::permission_denied: r = {550, "Permission denied"}; break;
    case storage_errc::no_space: r = {452, "Insufficient storage space"}; break;
    case storage_errc::invalid_name: r = {553, "File name not allowed"}; break;
    case storage_errc::invalid_offset: r = {554, "Invalid REST parameter"}; break;
    case storage_errc::too_many_entries: r = {550, "Too many entries for one operation on this store"}; break;
    case storage_errc::io_error: break;
  }
  for (const auto& [k, text] : overrides)
    if (k == kind) {
      r.text = text;
      break;
    }
  return r;
}

namespace detail {
/// The reply for a path argument that is no path (NUL, CR or LF inside).
inline reply bad_path() { return {501, "Invalid path"}; }

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
