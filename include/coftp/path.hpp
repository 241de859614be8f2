// coftp/path.hpp - virtual paths: normalization, joining with the working directory,
// and the sandbox rule that nothing climbs above "/".
//
// RFC 959 leaves path syntax to the server; coftp uses Unix syntax ("/" separates
// components) as every mainstream client expects. The functions here are pure: no
// file system access. A normalized path starts with "/", has no empty, "." or ".."
// components and no trailing slash ("/" itself excepted).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace coftp {

/// Resolves `arg` (absolute, or relative to `cwd`) into a normalized virtual path.
/// ".." at the root stays at the root, as in chroot. Returns nullopt for paths no
/// backend may see: those containing NUL, CR or LF.
/// `cwd` must itself be normalized.
inline std::optional<std::string> resolve_path(std::string_view cwd, std::string_view arg) {
  if (arg.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) return std::nullopt;
  std::string out;
  out.reserve(cwd.size() + arg.size() + 1);
  if (arg.empty() || arg.front() != '/') out = cwd == "/" ? std::string() : std::string(cwd);
  std::size_t i = 0;
  while (i <= arg.size()) {
    std::size_t j = arg.find('/', i);
    if (j == std::string_view::npos) j = arg.size();
    std::string_view part = arg.substr(i, j - i);
    if (part.empty() || part == ".") {
      // skip
    } else if (part == "..") {
      out.erase(out.rfind('/') == std::string::npos ? 0 : out.rfind('/'));
    } else {
      out += '/';
      out += part;
    }
    i = j + 1;
  }
  if (out.empty()) out = "/";
  return out;
}

/// True if `path` is `dir` or lies beneath it, comparing whole components:
/// "/srv/ftp2" is not within "/srv/ftp". Both must be normalized.
inline bool is_within(std::string_view path, std::string_view dir) noexcept {
  if (dir == "/") return !path.empty() && path.front() == '/';
  if (!path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

/// The parent of a normalized path ("/" for "/" and for top-level entries).
inline std::string_view parent_path(std::string_view path) noexcept {
  auto pos = path.rfind('/');
  if (pos == 0 || pos == std::string_view::npos) return "/";
  return path.substr(0, pos);
}

/// The last component of a normalized path ("" for "/").
inline std::string_view file_name(std::string_view path) noexcept {
  auto pos = path.rfind('/');
  return pos == std::string_view::npos ? path : path.substr(pos + 1);
}

/// Joins a normalized virtual path beneath a normalized `root` (a user's home):
/// join_under("/home/u", "/a") == "/home/u/a", join_under("/home/u", "/") == "/home/u".
inline std::string join_under(std::string_view root, std::string_view path) {
  if (root == "/" || root.empty()) return std::string(path);
  if (path == "/") return std::string(root);
  std::string out(root);
  out += path;
  return out;
}

/// Quotes a path for a 257 reply: RFC 959 appendix II doubles embedded quotes.
inline std::string quote_path(std::string_view path) {
  std::string out = "\"";
  for (char c : path) {
    out += c;
    if (c == '"') out += '"';
  }
  out += '"';
  return out;
}

/// A path as the user sees it and as the storage knows it.
struct resolved_path {
  std::string virtual_path;  ///< relative to the user's "/" (what PWD and 257 show)
  std::string storage_path;  ///< the user's home joined in front (what the backend gets)
};

}  // namespace coftp
