// coftp/storage.hpp - the storage backend concept and what it trades in.
//
// A backend stores the files a server serves: a directory on disk (local_fs),
// RAM (memory_fs), or a remote store. Every operation is an awaitable so that a
// remote backend can do real asynchronous I/O; a local backend simply completes.
//
// Paths handed to a backend are normalized virtual paths ("/", "/a/b.txt"): no
// ".", "..", empty components or trailing slash. The sandbox rule (never above
// "/") is enforced by path.hpp before a backend sees a path; a backend that maps
// paths onto something with links of its own (local_fs) must still keep them
// beneath its root.
#pragma once

#include <coftp/config.hpp>
#include <coftp/error.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <chrono>
#include <concepts>
#include <iterator>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace coftp {

/// What kind of entry a file_info describes.
enum class file_type { regular, directory, symlink, other };

/// One directory entry, or the result of `stat`.
struct file_info {
  std::string name;  ///< last path component ("" for "/")
  file_type type = file_type::regular;
  std::uint64_t size = 0;
  std::chrono::system_clock::time_point mtime{};
  unsigned mode = 0;       ///< POSIX permission bits (0 when the backend has none)
  std::uint64_t nlink = 1;
  std::string unique{};    ///< stable identity (MLSx "unique" fact); "" when the backend has none

  bool is_directory() const noexcept { return type == file_type::directory; }
  bool is_regular() const noexcept { return type == file_type::regular; }
};

/// Most entries one `directory::read` hands out (COFTP_LISTING_BATCH, 256 by default):
/// what a listing holds of a directory at a time once it streams.
inline constexpr std::size_t listing_batch = COFTP_LISTING_BATCH;

/// How `open_write` treats an existing file.
enum class write_mode {
  replace,     ///< new content replaces the old one atomically on commit (STOR)
  append,      ///< new content is added at the end (APPE)
  create_new,  ///< like replace, but an existing file is never replaced (STOU): `already_exists`
};

/// A result carrying an error code and, when there is no error, a value.
template <class T>
using result = std::pair<std::error_code, T>;

/// The requirements on a storage backend.
///
/// - `stat(path)`: the entry at `path`.
/// - `open_directory(path)`: a `directory` stream over the entries of directory `path`
///   (no "." or ".."), in any order; a file is an error (`not_a_directory`). Its
///   `read(entries)` replaces the content of `entries` with the next entries, at most
///   `listing_batch` of them, and leaves it empty at the end. A listing of a million
///   entries thus never sits in memory whole: the server formats and sends each batch
///   before it asks for the next. `list_all` below collects a whole directory.
/// - `open_read(path, offset)`: a reader positioned at `offset`.
/// - `open_write(path, mode, offset)`: a writer. Nothing it writes is visible at `path`
///   until `commit()` completes, in every mode (an append too); a writer destroyed
///   without a successful commit leaves the previous file exactly as it was, byte for
///   byte. A committed append holds the old content followed by the new; how appends
///   racing each other combine is the backend's to say (memory_fs adds each to the
///   content current at its commit, local_fs's last commit wins). A missing parent
///   directory is `not_found`.
///   `offset` (REST before STOR, only with `write_mode::replace`; 0 otherwise) keeps the
///   first `offset` bytes of the existing file and writes after them; the result still
///   replaces the file on commit. An offset beyond the existing file's size (or any
///   offset > 0 on a missing file) is `invalid_offset`. `create_new` fails with
///   `already_exists` when `path` exists, at open and again at commit.
/// - `make_directory`, `remove_directory` (only when empty), `remove_file`, `rename`
///   (fails with `already_exists` when the target exists).
///
/// A reader offers `read_some(buffer)` (0 bytes and no error at the end), `size()` (the
/// total size of the file) and `native_handle()` (a readable file descriptor positioned
/// nowhere in particular, or -1: lets the session use zero-copy paths such as sendfile).
/// A writer offers `write(buffer)` (all of it, or an error) and `commit()`.
template <class S>
concept storage_backend =
    requires(S& s, const std::string& path, std::uint64_t offset, write_mode mode,
             typename S::reader& r, typename S::writer& w, typename S::directory& d,
             std::vector<file_info>& entries, asio::mutable_buffer mb, asio::const_buffer cb) {
      typename S::reader;
      typename S::writer;
      typename S::directory;
      { s.stat(path) } -> std::same_as<asio::awaitable<result<file_info>>>;
      { s.open_directory(path) } -> std::same_as<asio::awaitable<result<typename S::directory>>>;
      { s.open_read(path, offset) } -> std::same_as<asio::awaitable<result<typename S::reader>>>;
      { s.open_write(path, mode, offset) } -> std::same_as<asio::awaitable<result<typename S::writer>>>;
      { s.make_directory(path) } -> std::same_as<asio::awaitable<std::error_code>>;
      { s.remove_directory(path) } -> std::same_as<asio::awaitable<std::error_code>>;
      { s.remove_file(path) } -> std::same_as<asio::awaitable<std::error_code>>;
      { s.rename(path, path) } -> std::same_as<asio::awaitable<std::error_code>>;
      { r.read_some(mb) } -> std::same_as<asio::awaitable<result<std::size_t>>>;
      { r.size() } -> std::convertible_to<std::uint64_t>;
      { r.native_handle() } -> std::convertible_to<int>;
      { w.write(cb) } -> std::same_as<asio::awaitable<std::error_code>>;
      { w.commit() } -> std::same_as<asio::awaitable<std::error_code>>;
      { d.read(entries) } -> std::same_as<asio::awaitable<std::error_code>>;
    } && std::movable<typename S::reader> && std::movable<typename S::writer> &&
    std::movable<typename S::directory> && std::default_initializable<typename S::reader> &&
    std::default_initializable<typename S::writer> && std::default_initializable<typename S::directory>;

/// All the entries of directory `path`, read batch after batch from `open_directory`.
/// For tools and tests: the server itself never holds a whole directory.
template <storage_backend S>
asio::awaitable<result<std::vector<file_info>>> list_all(S& storage, std::string path) {
  auto [ec, dir] = co_await storage.open_directory(std::move(path));
  std::vector<file_info> all, batch;
  while (!ec) {
    ec = co_await dir.read(batch);
    if (batch.empty()) break;
    std::move(batch.begin(), batch.end(), std::back_inserter(all));
  }
  if (ec) all.clear();
  co_return result<std::vector<file_info>>(ec, std::move(all));
}

/// Optional: MFMT (RFC 3659 draft, "modify fact") sets a file's modification time.
/// Commands that need it answer 502 and stay out of FEAT when the backend lacks it.
template <class S>
concept can_set_modified = requires(S& s, const std::string& path, std::chrono::system_clock::time_point t) {
  { s.set_modified(path, t) } -> std::same_as<asio::awaitable<std::error_code>>;
};

/// Optional: SITE CHMOD sets POSIX permission bits (`mode & 07777`).
template <class S>
concept can_set_mode = requires(S& s, const std::string& path, unsigned mode) {
  { s.set_mode(path, mode) } -> std::same_as<asio::awaitable<std::error_code>>;
};

/// Optional: CWD and CDUP ask whether the directory `path` may be entered (on a POSIX
/// file system: searched), so that a directory the server may not enter is refused with
/// 550 rather than made the working directory. No error: it may; else `not_found`,
/// `not_a_directory`, `permission_denied`, ... Backends without it are asked through
/// `probe_directory` below, which takes `stat` saying "a directory" for a yes.
template <class S>
concept can_enter_directory = requires(S& s, const std::string& path) {
  { s.enter_directory(path) } -> std::same_as<asio::awaitable<std::error_code>>;
};

/// Whether the directory `path` of `storage` can be entered: `storage.enter_directory`
/// where the backend has it, else `stat` (`not_a_directory` for anything but a directory).
template <class S>
asio::awaitable<std::error_code> probe_directory(S& storage, std::string path) {
  if constexpr (can_enter_directory<S>) {
    auto ec = co_await storage.enter_directory(std::move(path));
    co_return ec;
  } else {
    auto [ec, info] = co_await storage.stat(std::move(path));
    if (!ec && !info.is_directory()) ec = make_error_code(storage_errc::not_a_directory);
    co_return ec;
  }
}

/// Adapts a backend whose operations complete without waiting (a local disk, RAM) to
/// the awaitable interface of `storage_backend`: derive from `immediate_storage<Self>`
/// and define the synchronous `stat_now`, `open_directory_now`, `open_read_now`, `open_write_now`,
/// `make_directory_now`, `remove_directory_now`, `remove_file_now` and `rename_now`
/// (same arguments and results, without the awaitable), and optionally
/// `set_modified_now`, `set_mode_now` and `enter_directory_now`. `local_fs` and `memory_fs` are
/// written this way; a remote backend implements the awaitables itself instead.
///
/// Paths are taken by value so that an awaitable started later never refers to a
/// caller's temporary.
template <class Derived>
class immediate_storage {
 public:
  asio::awaitable<result<file_info>> stat(std::string path) const { co_return self().stat_now(path); }
  template <class D = Derived>
  asio::awaitable<result<typename D::directory>> open_directory(std::string path) const {
    co_return self().open_directory_now(path);
  }
  template <class D = Derived>
  asio::awaitable<result<typename D::reader>> open_read(std::string path, std::uint64_t offset) const {
    co_return self().open_read_now(path, offset);
  }
  template <class D = Derived>
  asio::awaitable<result<typename D::writer>> open_write(std::string path, write_mode mode,
                                                          std::uint64_t offset = 0) const {
    co_return self().open_write_now(path, mode, offset);
  }
  asio::awaitable<std::error_code> make_directory(std::string path) const { co_return self().make_directory_now(path); }
  asio::awaitable<std::error_code> remove_directory(std::string path) const {
    co_return self().remove_directory_now(path);
  }
  asio::awaitable<std::error_code> remove_file(std::string path) const { co_return self().remove_file_now(path); }
  asio::awaitable<std::error_code> rename(std::string from, std::string to) const {
    co_return self().rename_now(from, to);
  }
  template <class D = Derived>
    requires requires(const D& d, const std::string& p, std::chrono::system_clock::time_point t) {
      d.set_modified_now(p, t);
    }
  asio::awaitable<std::error_code> set_modified(std::string path, std::chrono::system_clock::time_point t) const {
    co_return self().set_modified_now(path, t);
  }
  template <class D = Derived>
    requires requires(const D& d, const std::string& p, unsigned m) { d.set_mode_now(p, m); }
  asio::awaitable<std::error_code> set_mode(std::string path, unsigned mode) const {
    co_return self().set_mode_now(path, mode);
  }
  template <class D = Derived>
    requires requires(const D& d, const std::string& p) { d.enter_directory_now(p); }
  asio::awaitable<std::error_code> enter_directory(std::string path) const {
    co_return self().enter_directory_now(path);
  }

 private:
  const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
};

}  // namespace coftp
