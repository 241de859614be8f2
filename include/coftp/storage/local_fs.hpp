// coftp/storage/local_fs.hpp - local_fs: a storage backend serving a directory tree on
// disk, sandboxed beneath a root directory (Linux).
//
// Sandbox: every path is resolved from the root's file descriptor with openat2(2) and
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so no symlink, ".." or /proc magic link inside
// the tree can lead out of the root, however the tree changes meanwhile. A symlink that
// stays beneath the root works as usual. Kernels without openat2 (before 5.6) get a walk
// that opens one component at a time with O_NOFOLLOW and refuses every symlink.
// Operations on a final name (mkdir, rmdir, unlink, rename, an upload's temporary file)
// open the parent directory beneath the root and use the *at() calls on the last
// component, so they never follow a symlink in that last component either.
//
// Uploads, in every mode (replace, append and create_new), are written aside, in an
// O_TMPFILE or a hidden ".coftp-upload.<16 hex digits>" file in the target's directory,
// and renamed over the target on commit: a reader sees the old file or the new one, never
// a part, and an abandoned upload leaves the old file as it was. A restarted upload
// (REST + STOR) first copies the kept part of the old file into the new one. create_new
// publishes with renameat2(RENAME_NOREPLACE), or link(2) where a file system lacks it: it
// never replaces a file that appeared meanwhile.
//
// An append (APPE) is a copy and a rename too: the new version starts as a copy of the
// old file, the data is appended to the copy, and the copy replaces the file on commit.
// Appending in place and truncating back on failure would not do: a server killed
// mid-APPE (SIGKILL, a crash) never truncates, and readers would see the file grow
// meanwhile. The copy is copy_file_range(2), which shares the extents (a
// reflink: no data copied, no space used) where the file system can (Btrfs, XFS, bcachefs,
// NFS 4.2 server-side copy), and copies in the kernel elsewhere (ext4, tmpfs) - then an
// APPE costs a copy of the file and, until commit, room for both versions. The new
// version keeps the old one's permission bits (without set-ID bits), like a replaced file
// does; it is a new inode, owned by the server's user, so hard links to the old file keep
// the old content and its `unique` fact changes. Appending needs read permission on the
// file and write permission on its directory. Concurrent APPEs (or an APPE and a STOR) of
// one file each start from the version current when they open: the last to commit wins
// and the others' data is lost, as with concurrent STORs.
//
// Leftovers: O_TMPFILE files vanish with the process, but a named temporary file (the
// fallback where a file system has no O_TMPFILE, and for an instant at each commit, which
// names the O_TMPFILE before renaming it) outlives a server killed at the wrong moment.
// They are hidden wherever paths enter the backend: `relative_path` refuses any path with
// a component of that exact form (`invalid_name`), so nothing can stat, read, write,
// rename or remove one, and directory listings skip them, so no LIST, NLST, MLSD or STAT
// shows them. `remove_leftovers()` deletes them; coftp-server calls it at start.
//
// set_modified and set_mode act on the entry resolved beneath the root like every other
// path (a symlink staying beneath the root is followed, as stat does), through an O_PATH
// descriptor: utimensat(AT_EMPTY_PATH) and fchmodat2(AT_EMPTY_PATH) (Linux 6.6). Without
// them they use the parent directory and the last name, and refuse a symlink there
// (permission_denied); set_mode then changes the mode through a descriptor opened with
// O_NOFOLLOW (it needs read or write permission on the entry), never through a path a
// concurrent rename could turn into a symlink. Error codes are errno values or
// storage_errc; they never carry host paths.
#pragma once

#include <coftp/error.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // Linux 6.6; the same number on every architecture
#endif

namespace coftp {

namespace detail::lfs {

/// Owns a file descriptor.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  /// Closes now and returns close(2)'s errno (0 on success): a deferred write error
  /// (NFS, quota) shows up here.
  int close() noexcept {
    if (fd_ < 0) return 0;
    // On Linux the descriptor is gone even when close reports EINTR: never retry.
    if (::close(std::exchange(fd_, -1)) != 0 && errno != EINTR) return errno;
    return 0;
  }

 private:
  int fd_ = -1;
};

inline std::error_code sys_error(int e) noexcept { return {e, std::system_category()}; }
inline std::error_code last_error() noexcept { return sys_error(errno); }

// Set once openat2 answered ENOSYS: no point asking again.
inline std::atomic<bool> openat2_missing{false};

inline constexpr std::string_view temp_prefix = ".coftp-upload.";

// A name of the exact form temp_name() makes: ".coftp-upload." and 16 lowercase hex digits.
inline bool is_temp_name(std::string_view name) noexcept {
  if (name.size() != temp_prefix.size() + 16 || !name.starts_with(temp_prefix)) return false;
  for (char c : name.substr(temp_prefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The path beneath the root for a normalized virtual path ("/" -> ".", "/a/b" -> "a/b").
// Refuses what a normalized path cannot contain, so that even a careless caller cannot
// make the component walk step on "..", and the names of uploads' temporary files: every
// operation takes its path from here, so none can reach one (see the header comment).
inline std::error_code relative_path(std::string_view path, std::string& out) {
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos)
    return make_error_code(storage_errc::invalid_name);
  if (path == "/") {
    out = ".";
    return {};
  }
  std::string_view rest = path.substr(1);
  for (std::size_t i = 0;;) {
    std::size_t j = rest.find('/', i);
    std::string_view part = rest.substr(i, j == std::string_view::npos ? j : j - i);
    if (part.empty() || part == "." || part == ".." || is_temp_name(part))
      return make_error_code(storage_errc::invalid_name);
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  out.assign(rest);
  return {};
}

inline bool is_symlink_at(int dir, const char* name) noexcept {
  struct ::stat st;
  return ::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// The fallback without openat2: one component at a time, O_NOFOLLOW everywhere, so any
// symlink is refused (ELOOP), even one that would stay beneath the root. A final symlink
// is returned only to a caller that asked for O_PATH | O_NOFOLLOW itself (stat).
inline std::error_code walk_open(int root, const std::string& rel, int flags, ::mode_t mode,
                                 unique_fd& out) {
  const bool caller_nofollow = (flags & O_NOFOLLOW) != 0;
  unique_fd held;
  int dir = root;
  for (std::size_t i = 0;;) {
    std::size_t j = rel.find('/', i);
    const bool last = j == std::string::npos;
    const std::string part = rel.substr(i, last ? j : j - i);
    // ".." would climb out of the root: paths from relative_path never hold one, but a
    // symlink's text pasted into a path (an append through a link) may. Refused as
    // RESOLVE_BENEATH refuses it.
    if (part == "..") return sys_error(EXDEV);
    int fd = last ? ::openat(dir, part.c_str(), flags | O_NOFOLLOW, mode)
                  : ::openat(dir, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      // O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR: report the symlink as such.
      if (e == ENOTDIR && is_symlink_at(dir, part.c_str())) e = ELOOP;
      return sys_error(e);
    }
    unique_fd opened(fd);
    if (last) {
      struct ::stat st;
      if (!caller_nofollow && (flags & O_PATH) && ::fstat(fd, &st) == 0 && S_ISLNK(st.st_mode))
        return sys_error(ELOOP);
      out = std::move(opened);
      return {};
    }
    held = std::move(opened);
    dir = held.get();
    i = j + 1;
  }
}

// Opens `rel` beneath `root`: openat2 with RESOLVE_BENEATH (always from the root, with the
// whole relative path: RESOLVE_BENEATH is relative to the dirfd), else the walk above.
inline std::error_code open_beneath(int root, const std::string& rel, int flags, ::mode_t mode,
                                    bool walk, unique_fd& out) {
  if (!walk && !openat2_missing.load(std::memory_order_relaxed)) {
    ::open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    // openat2 insists on mode 0 unless a file may be created.
    const bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
    how.mode = creates ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
      long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
      if (fd >= 0) {
        out = unique_fd(static_cast<int>(fd));
        return {};
      }
      const int e = errno;
      // EAGAIN: a concurrent rename raced a ".." lookup; the kernel asks us to retry.
      if ((e == EAGAIN || e == EINTR) && attempt < 8) continue;
      if (e != ENOSYS) return sys_error(e);
      openat2_missing.store(true, std::memory_order_relaxed);
      break;
    }
  }
  return walk_open(root, rel, flags, mode, out);
}

inline file_info info_from(const struct ::stat& st, std::string name) {
  file_info fi;
  fi.name = std::move(name);
  if (S_ISREG(st.st_mode)) fi.type = file_type::regular;
  else if (S_ISDIR(st.st_mode)) fi.type = file_type::directory;
  else if (S_ISLNK(st.st_mode)) fi.type = file_type::symlink;
  else fi.type = file_type::other;
  // A link's own size is the length of its target's path: for a link leading out of
  // the root that would tell something of the host, so links report 0.
  fi.size = st.st_size < 0 || S_ISLNK(st.st_mode) ? 0 : static_cast<std::uint64_t>(st.st_size);
  fi.mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  fi.mode = static_cast<unsigned>(st.st_mode & 07777);
  fi.nlink = static_cast<std::uint64_t>(st.st_nlink);
  char unique[40];
  std::snprintf(unique, sizeof unique, "%llx.%llx", static_cast<unsigned long long>(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  fi.unique = unique;
  return fi;
}

// ".coftp-upload.<16 hex digits>" (is_temp_name): unique enough with O_EXCL / linkat's
// EEXIST retries.
inline std::string temp_name() {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r))
    r = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (static_cast<std::uint64_t>(::getpid()) << 40);
  r ^= counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(r));
  return std::string(temp_prefix) + hex;
}

inline void clear_nonblock(int fd) noexcept {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK)) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

// Copies the first `length` bytes of `from` to `to` at its current position (a REST
// upload's kept part). copy_file_range shares extents where the file system can; across
// file systems, or where the kernel lacks it, a read/write loop does the same. A source
// that shrank meanwhile is `invalid_offset`.
inline std::error_code copy_prefix(int from, int to, std::uint64_t length, bool plain) {
  std::uint64_t done = 0;
  while (!plain && done < length) {
    ::off_t in = static_cast<::off_t>(done);
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(length - done, 1u << 30));
    ssize_t n = ::copy_file_range(from, &in, to, nullptr, chunk, 0);
    if (n > 0) {
      done += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n == 0) return make_error_code(storage_errc::invalid_offset);
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL && errno != EBADF)
      return last_error();
    plain = true;  // not here: copy by hand from where it stopped
  }
  std::vector<char> buf(done < length ? 1u << 16 : 0);
  while (done < length) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length - done, buf.size()));
    ssize_t n = ::pread(from, buf.data(), want, static_cast<::off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    if (n == 0) return make_error_code(storage_errc::invalid_offset);
    for (ssize_t w = 0; w < n;) {
      ssize_t m = ::write(to, buf.data() + w, static_cast<std::size_t>(n - w));
      if (m < 0 && errno == EINTR) continue;
      if (m < 0) return last_error();
      w += m;
    }
    done += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace detail::lfs

/// A storage backend serving a directory on disk, sandboxed beneath it (Linux only).
///
/// Copies are cheap and share the root directory's descriptor; one instance may serve all
/// sessions on any number of threads at once (there is no lock: every operation is a few
/// system calls relative to the root descriptor). Symlinks beneath the root are followed
/// while they stay beneath it; one leading out is reported by `stat`/`list` as
/// `file_type::symlink` and refused (`permission_denied`) by anything that would go
/// through it. Non-regular files (FIFOs, devices, sockets) cannot be opened.
///
/// The I/O is plain synchronous POSIX I/O inside coroutines that complete at once: fast
/// on a local disk; offload to a thread pool for slow network file systems.
///
/// @par Cancellation
/// None: every operation completes at once, without suspending.
///
/// @par Lifetimes
/// The awaitables refer to `*this`: keep the object (or the copy used) alive until they
/// complete. Readers and writers own their descriptors and may outlive the backend.
class local_fs : public immediate_storage<local_fs> {
 public:
  /// Reads one file; returned by `open_read`.
  class reader {
   public:
    reader() = default;

    /// Reads at the current position; 0 bytes and no error at the end of the file.
    asio::awaitable<result<std::size_t>> read_some(asio::mutable_buffer buf) { co_return read_now(buf); }

    /// The current size of the file (0 for a default-constructed reader).
    std::uint64_t size() const noexcept {
      struct ::stat st;
      if (!fd_ || ::fstat(fd_.get(), &st) != 0 || st.st_size < 0) return 0;
      return static_cast<std::uint64_t>(st.st_size);
    }

    /// The file descriptor (-1 if none). Reads use pread: its file offset is not used.
    int native_handle() const noexcept { return fd_.get(); }

    /// The offset the next `read_some` reads at.
    std::uint64_t position() const noexcept { return pos_; }

   private:
    friend class local_fs;
    reader(detail::lfs::unique_fd fd, std::uint64_t pos) noexcept : fd_(std::move(fd)), pos_(pos) {}
    result<std::size_t> read_now(asio::mutable_buffer buf);

    detail::lfs::unique_fd fd_;
    std::uint64_t pos_ = 0;
  };

  /// Writes one file; returned by `open_write`. Destroyed without a successful `commit()`
  /// it leaves the previous file untouched, in every mode.
  class writer {
   public:
    writer() = default;
    writer(writer&& o) noexcept
        : fd_(std::move(o.fd_)),
          dir_(std::move(o.dir_)),
          name_(std::move(o.name_)),
          temp_(std::exchange(o.temp_, std::string())),
          no_replace_(o.no_replace_),
          link_only_(o.link_only_),
          failed_(o.failed_) {}
    writer& operator=(writer&& o) noexcept {
      if (this != &o) {
        discard();
        fd_ = std::move(o.fd_);
        dir_ = std::move(o.dir_);
        name_ = std::move(o.name_);
        temp_ = std::exchange(o.temp_, std::string());
        no_replace_ = o.no_replace_;
        link_only_ = o.link_only_;
        failed_ = o.failed_;
      }
      return *this;
    }
    ~writer() { discard(); }

    /// Writes all of `buf`, or fails. After a failure every later call fails the same way.
    asio::awaitable<std::error_code> write(asio::const_buffer buf) { co_return write_now(buf); }

    /// Replace and append mode: moves the new version into place atomically. create_new:
    /// the same, but fails with `already_exists` (leaving the other file alone) if the name
    /// was taken meanwhile.
    asio::awaitable<std::error_code> commit() { co_return commit_now(); }

    /// The descriptor being written at its current position (in append mode: the end of
    /// the copy of the old file), for zero-copy uploads (splice); -1 after a failure.
    int native_handle() const noexcept { return failed_ ? -1 : fd_.get(); }

   private:
    friend class local_fs;
    std::error_code write_now(asio::const_buffer buf);
    std::error_code commit_now();
    void discard() noexcept {
      fd_.reset();
      if (!temp_.empty() && dir_) ::unlinkat(dir_.get(), temp_.c_str(), 0);
      temp_.clear();
    }

    detail::lfs::unique_fd fd_;   // the data being written
    detail::lfs::unique_fd dir_;  // the target's directory
    std::string name_;            // the target's name in dir_
    std::string temp_;            // a named temporary entry in dir_, removed unless committed
    bool no_replace_ = false;     // create_new: publish without replacing
    bool link_only_ = false;      // create_new without trying renameat2 (fallbacks::legacy_syscalls)
    std::error_code failed_;
  };

  /// Reads one directory, batch after batch; returned by `open_directory`. Holds the
  /// directory open (one descriptor) until destroyed.
  class directory {
   public:
    directory() = default;

    /// The next entries, at most `listing_batch`; none at the end. Entries removed while
    /// the directory is read are skipped.
    asio::awaitable<std::error_code> read(std::vector<file_info>& entries) { co_return read_now(entries); }

   private:
    friend class local_fs;
    struct closer {
      void operator()(::DIR* d) const noexcept { ::closedir(d); }
    };
    directory(std::unique_ptr<::DIR, closer> dir, std::string rel, std::shared_ptr<const detail::lfs::unique_fd> root,
              bool walk_paths) noexcept
        : dir_(std::move(dir)), rel_(std::move(rel)), root_(std::move(root)), walk_paths_(walk_paths) {}
    std::error_code read_now(std::vector<file_info>& entries);

    std::unique_ptr<::DIR, closer> dir_;
    std::string rel_;  // the directory, relative to the root ("." for the root)
    std::shared_ptr<const detail::lfs::unique_fd> root_;
    bool walk_paths_ = false;
  };

  /// Which fallbacks to take even where the system offers better (lets tests cover them).
  struct fallbacks {
    bool walk_paths = false;        ///< resolve without openat2, refusing every symlink
    bool named_temp_files = false;  ///< upload into a hidden named file, not an O_TMPFILE
    /// No copy_file_range, renameat2(RENAME_NOREPLACE), utimensat(AT_EMPTY_PATH) or
    /// fchmodat2: what older kernels and some file systems offer.
    bool legacy_syscalls = false;
  };

  /// Serves the directory `root`. Throws std::system_error if it cannot be opened as a
  /// directory (the message does not repeat the path).
  explicit local_fs(std::filesystem::path root);

  /// Forces fallbacks on this copy; for tests. Not to be called while the copy is in use.
  void force_fallbacks(fallbacks f) noexcept { fallbacks_ = f; }

  // The awaitable operations come from immediate_storage; these are their synchronous
  // bodies, usable directly too.

  /// The entry at `path`. A symlink resolving beneath the root is described by its
  /// target's data under the link's name; any other symlink as `file_type::symlink`.
  result<file_info> stat_now(std::string_view path) const;

  /// Opens the directory `path` for reading its entries (no "." or ".."), in no
  /// particular order.
  result<directory> open_directory_now(std::string_view path) const;

  /// Opens the regular file `path` for reading at `offset` (past the end reads nothing).
  result<reader> open_read_now(std::string_view path, std::uint64_t offset) const;

  /// Opens `path` for writing. Every mode writes aside and renames on commit; the
  /// replaced file's permission bits are kept (set-id bits dropped), a new file gets 0644
  /// minus the umask. With `offset` (replace mode only) the new file starts with the old
  /// one's first `offset` bytes, copied at open (`invalid_offset` if it is shorter or
  /// missing). create_new is replace mode refusing an existing entry (`already_exists`;
  /// a symlink counts, dangling or not), at open and at commit. Append mode starts the new
  /// version with a copy of the whole old file, copied at open (a reflink where the file
  /// system can), or with nothing when there is none: the file is unchanged unless the
  /// append commits (see the header comment for concurrent appends). Parents are never
  /// created (`not_found`). In replace and create_new mode a symlink as the target is
  /// replaced itself when it is dangling or resolves beneath the root; an append goes
  /// through it to the file it names (created if missing) while it stays beneath the
  /// root. A symlink leading out is refused (`permission_denied`).
  result<writer> open_write_now(std::string_view path, write_mode mode, std::uint64_t offset = 0) const;

  /// Creates the directory `path` (0755 minus the umask); `already_exists` if taken.
  std::error_code make_directory_now(std::string_view path) const;

  /// Removes the empty directory `path`.
  std::error_code remove_directory_now(std::string_view path) const;

  /// Removes the file (or symlink, never its target) `path`.
  std::error_code remove_file_now(std::string_view path) const;

  /// Renames `from` to `to`, never replacing an existing `to` (`already_exists`).
  std::error_code rename_now(std::string_view from, std::string_view to) const;

  /// Sets the modification (and access) time of `path`, file or directory; a symlink
  /// beneath the root is followed (see the header comment for older kernels).
  std::error_code set_modified_now(std::string_view path, std::chrono::system_clock::time_point t) const;

  /// Sets the permission bits of `path` to `mode & 07777`; a symlink beneath the root is
  /// followed (see the header comment for older kernels).
  std::error_code set_mode_now(std::string_view path, unsigned mode) const;

  /// Whether the directory `path` can be entered (CWD): it resolves `path + "/."`, which
  /// takes search permission on the directory itself, so a directory the server's user
  /// may not search is `permission_denied`, a file `not_a_directory`.
  std::error_code enter_directory_now(std::string_view path) const;

  /// Removes the temporary files that uploads of an earlier run left behind (a server
  /// killed mid-upload with named temporary files, see the header comment): every regular
  /// file named ".coftp-upload." plus 16 lowercase hex digits, in the root and every
  /// directory beneath it. Nothing else is touched: the walk opens each directory one
  /// component at a time with O_NOFOLLOW, so it never goes through a symlink (in or out of
  /// the root), and skips directories it may not read. At most `max_directories` are
  /// read; beyond that the result is `too_many_entries`, with what was removed so far.
  /// Returns the number removed, and the first error removing one.
  ///
  /// Call it at start-up, before serving, while nothing else uploads into the tree: an
  /// upload under way in another process (another server on the same directory) would
  /// lose its temporary file and fail at commit. coftp-server calls it for each root it
  /// serves.
  result<std::size_t> remove_leftovers(std::size_t max_directories = 1000000) const;

 private:
  std::error_code open_at_root(const std::string& rel, int flags, ::mode_t mode,
                               detail::lfs::unique_fd& out) const {
    return detail::lfs::open_beneath(root_->get(), rel, flags, mode, fallbacks_.walk_paths, out);
  }
  std::error_code open_parent(const std::string& rel, detail::lfs::unique_fd& dir, std::string& name) const;

  std::shared_ptr<const detail::lfs::unique_fd> root_;
  fallbacks fallbacks_;
};

static_assert(storage_backend<local_fs>);
static_assert(can_set_modified<local_fs> && can_set_mode<local_fs> && can_enter_directory<local_fs>);

// ---------------------------------------------------------------------------------------
// Implementation.

inline local_fs::local_fs(std::filesystem::path root) {
  detail::lfs::unique_fd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw std::system_error(errno, std::system_category(), "coftp::local_fs: cannot open the root directory");
  root_ = std::make_shared<const detail::lfs::unique_fd>(std::move(fd));
}

inline result<std::size_t> local_fs::reader::read_now(asio::mutable_buffer buf) {
  if (!fd_) return {make_error_code(storage_errc::io_error), 0};
  if (buf.size() == 0 || pos_ > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max())) return {{}, 0};
  for (;;) {
    ssize_t n = ::pread(fd_.get(), buf.data(), buf.size(), static_cast<::off_t>(pos_));
    if (n >= 0) {
      pos_ += static_cast<std::uint64_t>(n);
      return {{}, static_cast<std::size_t>(n)};
    }
    if (errno != EINTR) return {detail::lfs::last_error(), 0};
  }
}

inline std::error_code local_fs::writer::write_now(asio::const_buffer buf) {
  if (!fd_) return make_error_code(storage_errc::io_error);
  if (failed_) return failed_;
  auto p = static_cast<const char*>(buf.data());
  std::size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(fd_.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed_ = detail::lfs::last_error();
      return failed_;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return {};
}

inline std::error_code local_fs::writer::commit_now() {
  using detail::lfs::sys_error;
  if (!fd_) return make_error_code(storage_errc::io_error);
  if (failed_) return failed_;
  if (temp_.empty()) {
    // An O_TMPFILE has no name yet: give it a temporary one, then rename that over the
    // target (linkat cannot replace an existing name).
    const std::string proc = "/proc/self/fd/" + std::to_string(fd_.get());
    for (int attempt = 0;; ++attempt) {
      std::string name = detail::lfs::temp_name();
      if (::linkat(AT_FDCWD, proc.c_str(), dir_.get(), name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        temp_ = std::move(name);
        break;
      }
      const int e = errno;
      if (e == EEXIST && attempt < 16) continue;
      // /proc went away since open_write: AT_EMPTY_PATH works if we hold CAP_DAC_READ_SEARCH.
      if (e == ENOENT && ::linkat(fd_.get(), "", dir_.get(), name.c_str(), AT_EMPTY_PATH) == 0) {
        temp_ = std::move(name);
        break;
      }
      fd_.reset();
      return sys_error(e);
    }
  }
  if (const int e = fd_.close()) {
    discard();
    return sys_error(e);
  }
  if (no_replace_) {
    // renameat2(RENAME_NOREPLACE) where the file system has it, else link(2), which never
    // replaces either; the temporary name goes away in both cases.
    int r = link_only_ ? -1 : ::renameat2(dir_.get(), temp_.c_str(), dir_.get(), name_.c_str(), RENAME_NOREPLACE);
    if (r != 0 && (link_only_ || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
      r = ::linkat(dir_.get(), temp_.c_str(), dir_.get(), name_.c_str(), 0);
    else if (r == 0)
      temp_.clear();
    if (r != 0) {
      auto ec = detail::lfs::last_error();
      discard();
      return ec;
    }
    discard();  // after link(2): drops the temporary name
    dir_.reset();
    return {};
  }
  if (::renameat(dir_.get(), temp_.c_str(), dir_.get(), name_.c_str()) != 0) {
    auto ec = detail::lfs::last_error();
    discard();
    return ec;
  }
  temp_.clear();
  dir_.reset();
  return {};
}

inline std::error_code local_fs::open_parent(const std::string& rel, detail::lfs::unique_fd& dir,
                                             std::string& name) const {
  const auto slash = rel.rfind('/');
  const std::string parent = slash == std::string::npos ? std::string(".") : rel.substr(0, slash);
  name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  return open_at_root(parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, dir);
}

inline result<file_info> local_fs::stat_now(std::string_view path) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return {ec, {}};
  unique_fd fd;
  if (auto ec = open_at_root(rel, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, fd)) return {ec, {}};
  struct ::stat st;
  if (::fstat(fd.get(), &st) != 0) return {last_error(), {}};
  if (S_ISLNK(st.st_mode)) {
    unique_fd target;
    struct ::stat tst;
    if (!open_at_root(rel, O_PATH | O_CLOEXEC, 0, target) && ::fstat(target.get(), &tst) == 0) st = tst;
  }
  return {{}, info_from(st, std::string(file_name(path)))};
}

inline result<local_fs::directory> local_fs::open_directory_now(std::string_view path) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return {ec, directory{}};
  unique_fd fd;
  if (auto ec = open_at_root(rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, fd)) return {ec, directory{}};
  ::DIR* dir = ::fdopendir(fd.get());
  if (!dir) return {last_error(), directory{}};
  fd.release();  // owned by dir now
  return {std::error_code(), directory(std::unique_ptr<::DIR, directory::closer>(dir), std::move(rel), root_, fallbacks_.walk_paths)};
}

inline std::error_code local_fs::directory::read_now(std::vector<file_info>& entries) {
  using namespace detail::lfs;
  entries.clear();
  if (!dir_) return {};
  while (entries.size() < listing_batch) {
    errno = 0;
    const ::dirent* e = ::readdir(dir_.get());
    if (!e) {
      if (errno != 0) return last_error();
      break;
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == ".." || is_temp_name(name)) continue;  // an upload's temporary file: never shown
    struct ::stat st;
    if (::fstatat(::dirfd(dir_.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    if (S_ISLNK(st.st_mode)) {
      // Resolve from the root with the whole path: a link to "../x" may stay beneath it.
      std::string child = rel_ == "." ? std::string(name) : rel_ + '/' + std::string(name);
      unique_fd target;
      struct ::stat tst;
      if (!open_beneath(root_->get(), child, O_PATH | O_CLOEXEC, 0, walk_paths_, target) &&
          ::fstat(target.get(), &tst) == 0)
        st = tst;
    }
    entries.push_back(info_from(st, std::string(name)));
  }
  return {};
}

inline result<local_fs::reader> local_fs::open_read_now(std::string_view path, std::uint64_t offset) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return {ec, reader{}};
  unique_fd fd;
  // O_NONBLOCK: opening a FIFO must not hang the thread (it is refused just below).
  if (auto ec = open_at_root(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0, fd)) {
    if (ec.value() == ENXIO || ec.value() == ENODEV) ec = make_error_code(storage_errc::permission_denied);
    return {ec, reader{}};
  }
  struct ::stat st;
  if (::fstat(fd.get(), &st) != 0) return {last_error(), reader{}};
  if (S_ISDIR(st.st_mode)) return {make_error_code(storage_errc::is_a_directory), reader{}};
  if (!S_ISREG(st.st_mode)) return {make_error_code(storage_errc::permission_denied), reader{}};
  clear_nonblock(fd.get());
  return {std::error_code(), reader(std::move(fd), offset)};
}

inline result<local_fs::writer> local_fs::open_write_now(std::string_view path, write_mode mode,
                                                        std::uint64_t offset) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return {ec, writer{}};
  if (offset != 0 && mode != write_mode::replace) return {make_error_code(storage_errc::invalid_offset), writer{}};
  if (rel == ".")
    return {make_error_code(mode == write_mode::create_new ? storage_errc::already_exists : storage_errc::is_a_directory),
            writer{}};
  if (offset > static_cast<std::uint64_t>(std::numeric_limits<::off_t>::max()))
    return {make_error_code(storage_errc::invalid_offset), writer{}};
  writer w;
  bool keep_mode = false;
  ::mode_t old_mode = 0;
  unique_fd source;         // REST + STOR: the kept part; APPE: the old file
  std::uint64_t keep = 0;   // the bytes copied from `source`

  if (mode == write_mode::append) {
    // The file the name resolves to, through symlinks staying beneath the root as a read
    // would go: the new version replaces that file, not the link. Each link's text is
    // appended to the path of its directory and resolved from the root again, so that
    // ".." in it is the kernel's (physical) "..", checked by RESOLVE_BENEATH like any path.
    std::string target = rel;
    for (int links = 0;; ++links) {
      if (auto ec = open_parent(target, w.dir_, w.name_)) return {ec, writer{}};
      if (w.name_.empty() || w.name_ == "." || w.name_ == "..")
        return {make_error_code(storage_errc::is_a_directory), writer{}};
      // A link may name an upload's temporary file: hidden like any path naming one.
      if (is_temp_name(w.name_)) return {make_error_code(storage_errc::invalid_name), writer{}};
      struct ::stat st;
      if (::fstatat(w.dir_.get(), w.name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) return {last_error(), writer{}};
        break;  // missing (or a link dangling beneath the root): a new file
      }
      if (S_ISLNK(st.st_mode)) {
        // The walk fallback (forced, or openat2 missing: no RESOLVE_BENEATH to check the
        // link's "..") refuses every symlink; the kernel follows at most 40.
        if (fallbacks_.walk_paths || openat2_missing.load(std::memory_order_relaxed) || links == 40)
          return {sys_error(ELOOP), writer{}};
        std::string link(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 0) + 1, '\0');
        ssize_t n = ::readlinkat(w.dir_.get(), w.name_.c_str(), link.data(), link.size());
        if (n < 0) return {last_error(), writer{}};
        if (static_cast<std::size_t>(n) >= link.size()) return {sys_error(EAGAIN), writer{}};  // changed meanwhile
        link.resize(static_cast<std::size_t>(n));
        // An absolute link leads out (RESOLVE_BENEATH refuses it too, with EXDEV).
        if (link.empty() || link.front() == '/') return {make_error_code(storage_errc::permission_denied), writer{}};
        const auto slash = target.rfind('/');
        target = slash == std::string::npos ? link : target.substr(0, slash + 1) + link;
        continue;
      }
      if (S_ISDIR(st.st_mode)) return {make_error_code(storage_errc::is_a_directory), writer{}};
      if (!S_ISREG(st.st_mode)) return {make_error_code(storage_errc::permission_denied), writer{}};
      int fd = ::openat(w.dir_.get(), w.name_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) {
        auto ec = last_error();
        // Swapped for a link, a FIFO or a device since the fstatat: not a file to append to.
        if (ec.value() == ELOOP || ec.value() == ENXIO || ec.value() == ENODEV)
          ec = make_error_code(storage_errc::permission_denied);
        return {ec, writer{}};
      }
      source = unique_fd(fd);
      if (::fstat(source.get(), &st) != 0) return {last_error(), writer{}};
      if (!S_ISREG(st.st_mode)) return {make_error_code(storage_errc::permission_denied), writer{}};
      keep_mode = true;
      old_mode = st.st_mode & 0777;
      keep = st.st_size > 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
      break;
    }
  } else {
    if (auto ec = open_parent(rel, w.dir_, w.name_)) return {ec, writer{}};
    struct ::stat st;
    bool exists = ::fstatat(w.dir_.get(), w.name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!exists && errno != ENOENT) return {last_error(), writer{}};
    if (exists && mode == write_mode::create_new) return {make_error_code(storage_errc::already_exists), writer{}};
    if (exists && S_ISLNK(st.st_mode)) {
      // The rename will replace the link itself; still, a link leading out of the root is
      // refused rather than silently replaced, like every other use of it.
      unique_fd target;
      auto ec = open_at_root(rel, O_PATH | O_CLOEXEC, 0, target);
      if (ec && ec.value() == ENOENT) exists = false;  // dangling beneath the root
      else if (ec) return {ec, writer{}};
      else if (::fstat(target.get(), &st) != 0) return {last_error(), writer{}};
    }
    if (exists && S_ISDIR(st.st_mode)) return {make_error_code(storage_errc::is_a_directory), writer{}};
    // Keep the replaced file's permissions, without set-user/group-ID bits: an upload must
    // never turn into a set-ID program.
    keep_mode = exists && S_ISREG(st.st_mode);
    old_mode = st.st_mode & 0777;

    // REST + STOR: the kept part comes from the file as opened now (through a symlink
    // beneath the root, as a read would), whatever replaces it before the copy.
    if (offset > 0) {
      if (auto ec = open_at_root(rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0, source)) {
        if (ec.value() == ENOENT) ec = make_error_code(storage_errc::invalid_offset);
        else if (ec.value() == ENXIO || ec.value() == ENODEV) ec = make_error_code(storage_errc::permission_denied);
        return {ec, writer{}};
      }
      if (::fstat(source.get(), &st) != 0) return {last_error(), writer{}};
      if (S_ISDIR(st.st_mode)) return {make_error_code(storage_errc::is_a_directory), writer{}};
      if (!S_ISREG(st.st_mode)) return {make_error_code(storage_errc::permission_denied), writer{}};
      if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) < offset)
        return {make_error_code(storage_errc::invalid_offset), writer{}};
      keep_mode = true;
      old_mode = st.st_mode & 0777;
      keep = offset;
    }
  }

  if (!fallbacks_.named_temp_files && ::access("/proc/self/fd", F_OK) == 0) {
    int fd = ::openat(w.dir_.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) w.fd_ = unique_fd(fd);
    else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return {last_error(), writer{}};
  }
  if (!w.fd_) {  // no O_TMPFILE here: a hidden named file, removed unless committed
    for (int attempt = 0;; ++attempt) {
      std::string name = temp_name();
      int fd = ::openat(w.dir_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd >= 0) {
        w.fd_ = unique_fd(fd);
        w.temp_ = std::move(name);
        break;
      }
      if (errno != EEXIST || attempt >= 16) return {last_error(), writer{}};
    }
  }
  if (keep_mode && ::fchmod(w.fd_.get(), old_mode) != 0) return {last_error(), writer{}};
  if (source && keep > 0) {
    auto ec = copy_prefix(source.get(), w.fd_.get(), keep, fallbacks_.legacy_syscalls);
    // An old file truncated in place while copied is no restart offset of the client's.
    if (ec == storage_errc::invalid_offset && mode == write_mode::append) ec = make_error_code(storage_errc::io_error);
    if (ec) return {ec, writer{}};
  }
  w.no_replace_ = mode == write_mode::create_new;
  w.link_only_ = fallbacks_.legacy_syscalls;
  return {std::error_code(), std::move(w)};
}

inline std::error_code local_fs::enter_directory_now(std::string_view path) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return ec;
  // "dir/." is looked up in dir: the kernel asks for search permission on dir for that
  // (stat of "dir" alone asks only for search permission on its parent).
  unique_fd fd;
  if (auto ec = open_at_root(rel + "/.", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, fd)) return ec;
  return {};
}

inline result<std::size_t> local_fs::remove_leftovers(std::size_t max_directories) const {
  using namespace detail::lfs;
  std::vector<std::string> pending{"."};  // directories still to read, relative to the root
  std::size_t removed = 0, seen = 1;
  std::error_code first_error;
  while (!pending.empty()) {
    const std::string rel = std::move(pending.back());
    pending.pop_back();
    // walk_open: O_NOFOLLOW on every component, whatever openat2 could do.
    unique_fd fd;
    if (walk_open(root_->get(), rel, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC, 0, fd)) continue;
    std::unique_ptr<::DIR, directory::closer> dir(::fdopendir(fd.get()));
    if (!dir) continue;
    fd.release();
    while (const ::dirent* e = ::readdir(dir.get())) {
      const std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      unsigned char type = e->d_type;
      struct ::stat st;
      if ((type == DT_UNKNOWN || (type == DT_REG && is_temp_name(name))) &&
          ::fstatat(::dirfd(dir.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      if (type == DT_DIR) {
        if (seen == max_directories) return {make_error_code(storage_errc::too_many_entries), removed};
        ++seen;
        pending.push_back(rel == "." ? std::string(name) : rel + '/' + std::string(name));
      } else if (type == DT_REG && is_temp_name(name)) {
        if (::unlinkat(::dirfd(dir.get()), e->d_name, 0) == 0) ++removed;
        else if (!first_error && errno != ENOENT) first_error = last_error();
      }
    }
  }
  return {first_error, removed};
}

inline std::error_code local_fs::make_directory_now(std::string_view path) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return ec;
  if (rel == ".") return make_error_code(storage_errc::already_exists);
  unique_fd dir;
  std::string name;
  if (auto ec = open_parent(rel, dir, name)) return ec;
  if (::mkdirat(dir.get(), name.c_str(), 0755) != 0) return last_error();
  return {};
}

inline std::error_code local_fs::remove_directory_now(std::string_view path) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return ec;
  if (rel == ".") return make_error_code(storage_errc::permission_denied);
  unique_fd dir;
  std::string name;
  if (auto ec = open_parent(rel, dir, name)) return ec;
  struct ::stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return last_error();
  if (!S_ISDIR(st.st_mode)) return make_error_code(storage_errc::not_a_directory);
  if (::unlinkat(dir.get(), name.c_str(), AT_REMOVEDIR) != 0) {
    if (errno == EEXIST) return make_error_code(storage_errc::not_empty);  // POSIX allows either
    return last_error();
  }
  return {};
}

inline std::error_code local_fs::remove_file_now(std::string_view path) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return ec;
  if (rel == ".") return make_error_code(storage_errc::is_a_directory);
  unique_fd dir;
  std::string name;
  if (auto ec = open_parent(rel, dir, name)) return ec;
  // unlinkat says EISDIR or EPERM for a directory, depending on the system: ask first.
  struct ::stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return last_error();
  if (S_ISDIR(st.st_mode)) return make_error_code(storage_errc::is_a_directory);
  if (::unlinkat(dir.get(), name.c_str(), 0) != 0) return last_error();
  return {};
}

inline std::error_code local_fs::rename_now(std::string_view from, std::string_view to) const {
  using namespace detail::lfs;
  std::string rel_from, rel_to;
  if (auto ec = relative_path(from, rel_from)) return ec;
  if (auto ec = relative_path(to, rel_to)) return ec;
  if (rel_from == ".") return make_error_code(storage_errc::permission_denied);
  unique_fd from_dir, to_dir;
  std::string from_name, to_name;
  if (auto ec = open_parent(rel_from, from_dir, from_name)) return ec;
  struct ::stat st;
  if (::fstatat(from_dir.get(), from_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return last_error();
  if (rel_to == "." || rel_to == rel_from) return make_error_code(storage_errc::already_exists);
  if (is_within(to, from)) return make_error_code(storage_errc::invalid_name);
  if (auto ec = open_parent(rel_to, to_dir, to_name)) return ec;
  if (::renameat2(from_dir.get(), from_name.c_str(), to_dir.get(), to_name.c_str(), RENAME_NOREPLACE) == 0)
    return {};
  const int e = errno;
  if (e != EINVAL && e != ENOSYS) return sys_error(e);
  // No RENAME_NOREPLACE on this file system (or kernel): check, then rename. A racing
  // creation of `to` in between would be replaced: the best that can be done here.
  if (::fstatat(to_dir.get(), to_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    return make_error_code(storage_errc::already_exists);
  if (errno != ENOENT) return last_error();
  if (::renameat(from_dir.get(), from_name.c_str(), to_dir.get(), to_name.c_str()) != 0) return last_error();
  return {};
}

inline std::error_code local_fs::set_modified_now(std::string_view path,
                                                 std::chrono::system_clock::time_point t) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return ec;
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  ::timespec times[2];
  times[0].tv_sec = static_cast<::time_t>(ns / 1000000000);
  times[0].tv_nsec = static_cast<long>(ns % 1000000000);
  if (times[0].tv_nsec < 0) {  // before 1970: the nanoseconds count up from a whole second
    times[0].tv_sec -= 1;
    times[0].tv_nsec += 1000000000;
  }
  times[1] = times[0];
  if (!fallbacks_.legacy_syscalls) {
    unique_fd fd;
    if (auto ec = open_at_root(rel, O_PATH | O_CLOEXEC, 0, fd)) return ec;
    if (::utimensat(fd.get(), "", times, AT_EMPTY_PATH) == 0) return {};
    if (errno != EINVAL && errno != ENOENT) return last_error();  // no AT_EMPTY_PATH here (before 5.8)
  }
  unique_fd dir;
  std::string name;
  if (auto ec = open_parent(rel, dir, name)) return ec;
  if (is_symlink_at(dir.get(), name.c_str())) return make_error_code(storage_errc::permission_denied);
  // AT_SYMLINK_NOFOLLOW: a link swapped in meanwhile gets its own times changed, no more.
  if (::utimensat(dir.get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return last_error();
  return {};
}

inline std::error_code local_fs::set_mode_now(std::string_view path, unsigned mode) const {
  using namespace detail::lfs;
  std::string rel;
  if (auto ec = relative_path(path, rel)) return ec;
  const auto bits = static_cast<::mode_t>(mode & 07777);
  if (!fallbacks_.legacy_syscalls) {
    unique_fd fd;
    if (auto ec = open_at_root(rel, O_PATH | O_CLOEXEC, 0, fd)) return ec;
    if (::syscall(SYS_fchmodat2, fd.get(), "", bits, AT_EMPTY_PATH) == 0) return {};
    if (errno != ENOSYS && errno != EINVAL) return last_error();  // no fchmodat2 (before 6.6)
  }
  // fchmodat follows a symlink in the last component and has no working
  // AT_SYMLINK_NOFOLLOW on Linux: open the entry itself with O_NOFOLLOW instead.
  unique_fd dir;
  std::string name;
  if (auto ec = open_parent(rel, dir, name)) return ec;
  struct ::stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return last_error();
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return make_error_code(storage_errc::permission_denied);
  const int flags = O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  int fd = ::openat(dir.get(), name.c_str(), O_RDONLY | flags);
  if (fd < 0 && errno == EACCES && S_ISREG(st.st_mode)) fd = ::openat(dir.get(), name.c_str(), O_WRONLY | flags);
  if (fd < 0) return errno == ELOOP ? make_error_code(storage_errc::permission_denied) : last_error();
  unique_fd entry(fd);
  if (::fstat(entry.get(), &st) != 0) return last_error();
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return make_error_code(storage_errc::permission_denied);
  if (::fchmod(entry.get(), bits) != 0) return last_error();
  return {};
}

}  // namespace coftp
