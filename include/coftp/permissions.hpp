// coftp/permissions.hpp - what a logged-in user may do: one right per kind of command.
//
// Each command handler declares the rights it needs (`static constexpr permissions
// rights = ...`, see command_table.hpp) and dispatch checks them once, before the
// handler runs: "550 Permission denied" otherwise. The rights also shape the `perm`
// fact of MLSD and MLST (RFC 3659 7.5.5). This header is pure: no I/O, no Asio.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace coftp {

/// What a user may do. Combine with `|`. The single rights, and the commands each one
/// lets through (its name in a passwd file in quotes):
///
/// | right        | passwd   | commands                                   |
/// |--------------|----------|--------------------------------------------|
/// | `retrieve`   | "read"   | RETR, SIZE, MDTM                           |
/// | `list`       | "list"   | LIST, NLST, MLSD, MLST, STAT pathname      |
/// | `store`      | "write"  | STOR, APPE, STOU, MFMT                     |
/// | `remove`     | "delete" | DELE                                       |
/// | `rename`     | "rename" | RNFR, RNTO                                 |
/// | `make_dir`   | "mkdir"  | MKD, XMKD                                  |
/// | `remove_dir` | "rmdir"  | RMD, XRMD                                  |
/// | `site`       | "site"   | SITE sub-commands that change things (CHMOD) |
///
/// Every logged-in user may CWD, CDUP, PWD, set transfer parameters and use
/// NOOP, STAT (without argument), FEAT, HELP, SITE HELP: entering a directory shows
/// nothing of its contents. STOR over an existing file replaces it: that is `store`.
///
/// The sets kept from coftp 0.1, where there were only two rights: `read` (what
/// anonymous users get: retrieve and list, "ro" in a passwd file), `write` (every
/// right that changes the store) and `all`.
enum class permissions : unsigned {
  none = 0,
  retrieve = 1u << 0,    ///< RETR, SIZE, MDTM
  list = 1u << 1,        ///< LIST, NLST, MLSD, MLST, STAT pathname
  store = 1u << 2,       ///< STOR, APPE, STOU, MFMT
  remove = 1u << 3,      ///< DELE
  rename = 1u << 4,      ///< RNFR, RNTO
  make_dir = 1u << 5,    ///< MKD, XMKD
  remove_dir = 1u << 6,  ///< RMD, XRMD
  site = 1u << 7,        ///< SITE CHMOD (and sub-commands that declare it)
  read = retrieve | list,                                      ///< read-only access
  write = store | remove | rename | make_dir | remove_dir | site,  ///< every modifying right
  all = read | write,
};
constexpr permissions operator|(permissions a, permissions b) noexcept {
  return permissions(unsigned(a) | unsigned(b));
}
constexpr permissions operator&(permissions a, permissions b) noexcept {
  return permissions(unsigned(a) & unsigned(b));
}
/// The rights of `all` that `p` lacks.
constexpr permissions operator~(permissions p) noexcept { return permissions(~unsigned(p) & unsigned(permissions::all)); }
/// True if `have` includes every right of `want`.
constexpr bool allows(permissions have, permissions want) noexcept { return (have & want) == want; }

/// The names of the rights in a passwd file, in the order `to_string` writes them.
inline constexpr std::array<std::pair<std::string_view, permissions>, 8> permission_names = {{
    {"read", permissions::retrieve},
    {"list", permissions::list},
    {"write", permissions::store},
    {"delete", permissions::remove},
    {"rename", permissions::rename},
    {"mkdir", permissions::make_dir},
    {"rmdir", permissions::remove_dir},
    {"site", permissions::site},
}};

/// Parses a comma-separated list of right names ("read,list,write"), plus the
/// shorthands "all", "ro" (read,list) and "none". Spaces around names are ignored.
/// On an unknown or empty name returns nullopt and, if `bad` is given, stores the
/// offending word there.
inline std::optional<permissions> parse_permissions(std::string_view text, std::string* bad = nullptr) {
  auto trim = [](std::string_view w) {
    while (!w.empty() && (w.front() == ' ' || w.front() == '\t')) w.remove_prefix(1);
    while (!w.empty() && (w.back() == ' ' || w.back() == '\t')) w.remove_suffix(1);
    return w;
  };
  permissions out = permissions::none;
  for (;;) {
    auto comma = text.find(',');
    auto word = trim(text.substr(0, comma));
    std::optional<permissions> p;
    if (word == "all") p = permissions::all;
    else if (word == "ro") p = permissions::read;
    else if (word == "none") p = permissions::none;
    for (auto [name, right] : permission_names)
      if (word == name) p = right;
    if (!p) {
      if (bad) *bad = std::string(word);
      return std::nullopt;
    }
    out = out | *p;
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

/// The passwd-file form of `p`: "all", "none", or the names of its rights joined by
/// commas ("read,list,write").
inline std::string to_string(permissions p) {
  if (p == permissions::all) return "all";
  std::string out;
  for (auto [name, right] : permission_names)
    if (allows(p, right)) {
      if (!out.empty()) out += ',';
      out += name;
    }
  return out.empty() ? "none" : out;
}

}  // namespace coftp
