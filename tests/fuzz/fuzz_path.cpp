// fuzz_path: virtual path resolution and containment (include/coftp/path.hpp), the
// rules that keep every client beneath its home.
//
// Input: byte 0 and 1 are the lengths of a home and a working directory argument (each
// first resolved against "/", as the session does), the rest is the client's argument.
// Properties:
// - resolve_path refuses exactly the arguments with NUL, CR or LF;
// - a resolved path is absolute, has no empty, "." or ".." component (so no "//"), no
//   trailing slash ("/" aside), and equals what a reference stack normaliser gives;
// - resolving is idempotent and an absolute argument ignores the working directory;
//   a relative one means the same as "cwd/arg";
// - parent_path/file_name split a resolved path into a normalised parent and one
//   component, and ".." from a path is its parent;
// - join_under(home, p) is normalised, within home (is_within, whole components), and
//   taking home off again gives p back: nothing a client sends reaches outside home;
// - is_within agrees with a reference; quote_path undoes to the path.
#include <coftp/path.hpp>

#include "check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool normalized(std::string_view p) {
  if (p.empty() || p.front() != '/') return false;
  if (p == "/") return true;
  if (p.back() == '/') return false;
  if (p.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) return false;
  std::size_t i = 1;
  for (;;) {
    auto j = p.find('/', i);
    auto part = p.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    if (part.empty() || part == "." || part == "..") return false;
    if (j == std::string_view::npos) return true;
    i = j + 1;
  }
}

// The textbook normaliser: a stack of components, ".." pops (never past the root).
std::string reference(std::string_view cwd, std::string_view arg) {
  std::vector<std::string_view> parts;
  auto push = [&](std::string_view s) {
    std::size_t i = 0;
    while (i <= s.size()) {
      auto j = s.find('/', i);
      if (j == std::string_view::npos) j = s.size();
      auto part = s.substr(i, j - i);
      if (part == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
      i = j + 1;
    }
  };
  if (arg.empty() || arg.front() != '/') push(cwd);
  push(arg);
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

bool reference_within(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

std::string take(std::string_view& in, std::size_t n) {
  n = n < in.size() ? n : in.size();
  std::string out(in.substr(0, n));
  in.remove_prefix(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string home_arg = take(in, data[0] % 64), cwd_arg = take(in, data[1] % 64);
  std::string_view arg = in;

  std::string home = coftp::resolve_path("/", home_arg).value_or("/");
  std::string cwd = coftp::resolve_path("/", cwd_arg).value_or("/");
  FUZZ_CHECK(normalized(home) && normalized(cwd));

  auto r = coftp::resolve_path(cwd, arg);
  bool refused = arg.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos;
  FUZZ_CHECK(r.has_value() == !refused);
  if (!r) return 0;
  const std::string& p = *r;

  FUZZ_CHECK(normalized(p));
  FUZZ_CHECK(p.find("//") == std::string::npos);
  FUZZ_CHECK(p == reference(cwd, arg));
  FUZZ_CHECK(coftp::resolve_path("/", p) == p);
  FUZZ_CHECK(coftp::resolve_path(cwd, p) == p);
  if (!arg.empty() && arg.front() == '/') FUZZ_CHECK(coftp::resolve_path("/", arg) == p);
  else FUZZ_CHECK(coftp::resolve_path("/", cwd + "/" + std::string(arg)) == p);

  auto parent = coftp::parent_path(p);
  auto name = coftp::file_name(p);
  FUZZ_CHECK(normalized(parent));
  FUZZ_CHECK(name.find('/') == std::string_view::npos);
  FUZZ_CHECK(coftp::resolve_path(p, "..") == std::string(parent));
  if (p == "/") {
    FUZZ_CHECK(parent == "/" && name.empty());
  } else {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK((parent == "/" ? "/" + std::string(name) : std::string(parent) + "/" + std::string(name)) == p);
    FUZZ_CHECK(coftp::is_within(p, parent) && !coftp::is_within(parent, p));
  }

  auto joined = coftp::join_under(home, p);
  FUZZ_CHECK(normalized(joined));
  FUZZ_CHECK(coftp::is_within(joined, home));
  FUZZ_CHECK(reference_within(joined, home));
  std::string back = home == "/" ? joined : joined.substr(home.size());
  if (back.empty()) back = "/";
  FUZZ_CHECK(back == p);

  FUZZ_CHECK(coftp::is_within(p, cwd) == reference_within(p, cwd));
  FUZZ_CHECK(coftp::is_within(cwd, p) == reference_within(cwd, p));
  FUZZ_CHECK(coftp::is_within(p, home) == reference_within(p, home));

  auto quoted = coftp::quote_path(p);
  FUZZ_CHECK(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"');
  std::string unquoted;
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    unquoted += quoted[i];
    if (quoted[i] == '"') {
      FUZZ_CHECK(quoted[i + 1] == '"');
      ++i;
    }
  }
  FUZZ_CHECK(unquoted == p);
  return 0;
}
