// coftp/storage/memory_fs.hpp - memory_fs: a storage backend keeping its whole tree in
// RAM; the reference backend, the test double, and handy for embedding.
//
// It follows local_fs's error semantics exactly (same storage_errc for the same
// situation), so the storage contract suite runs over both.
#pragma once

#include <coftp/error.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace coftp {

/// A storage backend holding files and directories in memory.
///
/// Copies share the same tree (a `std::shared_ptr` to it, guarded by a mutex), so one
/// instance may serve all sessions on any number of threads. File contents are immutable
/// snapshots: a reader keeps reading the content it opened even if the file is replaced or
/// removed meanwhile. A writer accumulates privately; `commit()` swaps the content in
/// (replace) or appends it to the content current at commit time (append): nothing is
/// visible before. New directories get mode 0755, new files 0644 (`set_mode` changes them,
/// a replacing upload keeps them); mtime is the last change (or what `set_modified` set).
/// Each entry has a `unique` id (a counter in hex) given when it is created: a rename keeps
/// it, and so does an append, while a replacing upload (STOR) makes a new file with a new
/// id, as an atomic replace does on disk.
///
/// @par Example
/// @code
/// coftp::memory_fs fs{{"/a.txt", "hello"}, {"/dir/b.txt", "x"}};   // "/dir" is created too
/// @endcode
///
/// @par Cancellation
/// None: every operation completes at once, without suspending.
///
/// @par Lifetimes
/// The awaitables refer to `*this`: keep the object (or the copy used) alive until they
/// complete. Readers and writers may outlive it.
class memory_fs : public immediate_storage<memory_fs> {
  struct state;

 public:
  /// Reads one file's snapshot; returned by `open_read`.
  class reader {
   public:
    reader() = default;

    /// Copies the next bytes into `buf`; 0 bytes and no error at the end.
    asio::awaitable<result<std::size_t>> read_some(asio::mutable_buffer buf) { co_return read_now(buf); }

    /// The size of the snapshot being read.
    std::uint64_t size() const noexcept { return data_ ? data_->size() : 0; }

    /// Always -1: there is no descriptor behind a memory file.
    int native_handle() const noexcept { return -1; }

   private:
    friend class memory_fs;
    reader(std::shared_ptr<const std::string> data, std::uint64_t pos) noexcept
        : data_(std::move(data)), pos_(pos) {}
    result<std::size_t> read_now(asio::mutable_buffer buf) noexcept {
      if (!data_ || pos_ >= data_->size()) return {{}, 0};
      const std::size_t n = std::min<std::uint64_t>(buf.size(), data_->size() - pos_);
      std::memcpy(buf.data(), data_->data() + pos_, n);
      pos_ += n;
      return {{}, n};
    }

    std::shared_ptr<const std::string> data_;
    std::uint64_t pos_ = 0;
  };

  /// Accumulates one upload; returned by `open_write`. Nothing is visible before `commit()`.
  class writer {
   public:
    writer() = default;

    /// Appends `buf` to the pending content.
    asio::awaitable<std::error_code> write(asio::const_buffer buf) { co_return write_now(buf); }

    /// Publishes the pending content (replace, append or create_new, as opened). Fails if
    /// the parent directory went away or the name became a directory meanwhile, and with
    /// `already_exists` in create_new mode if the name was taken meanwhile.
    asio::awaitable<std::error_code> commit() { co_return commit_now(); }

   private:
    friend class memory_fs;
    writer(std::shared_ptr<state> st, std::string path, write_mode mode, std::string prefix)
        : state_(std::move(st)), path_(std::move(path)), mode_(mode), data_(std::move(prefix)) {}
    std::error_code write_now(asio::const_buffer buf) {
      if (!state_) return make_error_code(storage_errc::io_error);
      data_.append(static_cast<const char*>(buf.data()), buf.size());
      return {};
    }
    std::error_code commit_now();

    std::shared_ptr<state> state_;  // null once committed
    std::string path_;
    write_mode mode_ = write_mode::replace;
    std::string data_;
  };

  /// Reads one directory, batch after batch, sorted by name; returned by `open_directory`.
  /// Each batch is read under the lock from where the last one ended, so entries added or
  /// removed meanwhile may or may not show, but none shows twice.
  class directory {
   public:
    directory() = default;

    /// The next entries, at most `listing_batch`; none at the end.
    asio::awaitable<std::error_code> read(std::vector<file_info>& entries) {
      read_now(entries);
      co_return std::error_code{};
    }

   private:
    friend class memory_fs;
    directory(std::shared_ptr<state> st, std::string prefix) : state_(std::move(st)), next_(prefix), prefix_(std::move(prefix)) {}
    void read_now(std::vector<file_info>& entries);

    std::shared_ptr<state> state_;  // null at the end
    std::string next_;    // the key to go on from
    std::string prefix_;  // the directory's path with a trailing '/'
  };

  /// An empty tree: only "/".
  memory_fs() : state_(std::make_shared<state>()) {}

  /// A tree holding `files` ({path, content} pairs) and the directories above them.
  /// Throws std::invalid_argument for a path that is not absolute or collides with another.
  memory_fs(std::initializer_list<std::pair<std::string, std::string>> files);

  // The awaitable operations come from immediate_storage; these are their synchronous
  // bodies, usable directly too (to seed a test's files, say).

  /// The entry at `path`.
  result<file_info> stat_now(std::string_view path) const;

  /// Opens the directory `path` for reading its entries, sorted by name.
  result<directory> open_directory_now(std::string_view path) const;

  /// Opens the file `path` for reading at `offset` (past the end reads nothing).
  result<reader> open_read_now(std::string_view path, std::uint64_t offset) const;

  /// Opens `path` for writing; the parent must exist, `path` must not be a directory.
  /// With `offset` (replace mode only), the upload starts from the first `offset` bytes
  /// of the current content (`invalid_offset` if the file is shorter or missing).
  result<writer> open_write_now(std::string_view path, write_mode mode, std::uint64_t offset = 0) const;

  /// Creates the directory `path`; `already_exists` if the name is taken.
  std::error_code make_directory_now(std::string_view path) const;

  /// Removes the empty directory `path`.
  std::error_code remove_directory_now(std::string_view path) const;

  /// Removes the file `path`.
  std::error_code remove_file_now(std::string_view path) const;

  /// Renames `from` (a directory with its whole subtree) to `to`, which must not exist.
  std::error_code rename_now(std::string_view from, std::string_view to) const;

  /// Sets the modification time of the entry `path` (file or directory).
  std::error_code set_modified_now(std::string_view path, std::chrono::system_clock::time_point t) const;

  /// Sets the permission bits (`mode & 07777`) reported for `path`. They are only
  /// recorded: memory_fs checks no permissions.
  std::error_code set_mode_now(std::string_view path, unsigned mode) const;

 private:
  using clock = std::chrono::system_clock;

  struct node {
    file_type type = file_type::regular;
    std::shared_ptr<const std::string> data;  // files only
    clock::time_point mtime{};
    unsigned mode = 0;
    std::uint64_t id = 0;  // file_info::unique; follows the node through renames
  };

  // Keyed by the full normalized path; "/" is always present. The entries beneath "/d"
  // are the contiguous key range ["/d/", "/d0"): '0' follows '/' in ASCII. (Siblings
  // such as "/d.txt" sort between "/d" and "/d/", so the range starts at "/d/".)
  using node_map = std::map<std::string, node, std::less<>>;

  struct state {
    std::mutex mutex;
    node_map nodes;
    std::uint64_t next_id = 1;
    state() { nodes.emplace("/", make_node(file_type::directory, nullptr, clock::now())); }
    // A new entry with the default mode and the next id; called with the mutex held.
    node make_node(file_type type, std::shared_ptr<const std::string> data, clock::time_point now) {
      return node{type, std::move(data), now, type == file_type::directory ? 0755u : 0644u, next_id++};
    }
  };

  static bool valid(std::string_view path) noexcept;
  static std::string subtree_end(std::string_view dir) { return std::string(dir) + char('/' + 1); }
  static std::error_code find(node_map& nodes, std::string_view path, node*& out);
  static std::error_code find_parent_dir(node_map& nodes, std::string_view path, node*& out);
  static file_info info(std::string_view name, const node& n);

  std::shared_ptr<state> state_;
};

static_assert(storage_backend<memory_fs>);

// ---------------------------------------------------------------------------------------
// Implementation.

inline memory_fs::memory_fs(std::initializer_list<std::pair<std::string, std::string>> files)
    : memory_fs() {
  auto& nodes = state_->nodes;
  const auto now = clock::now();
  for (const auto& [raw, content] : files) {
    auto path = resolve_path("/", raw);
    if (raw.empty() || raw.front() != '/' || !path || *path == "/")
      throw std::invalid_argument("coftp::memory_fs: bad file path");
    for (std::size_t pos = path->find('/', 1); pos != std::string::npos; pos = path->find('/', pos + 1)) {
      auto key = path->substr(0, pos);
      if (auto it = nodes.find(key); it == nodes.end())
        nodes.emplace(std::move(key), state_->make_node(file_type::directory, nullptr, now));
      else if (it->second.type != file_type::directory)
        throw std::invalid_argument("coftp::memory_fs: a file is used as a directory");
    }
    if (nodes.find(*path) != nodes.end())
      throw std::invalid_argument("coftp::memory_fs: path given twice or used as a directory");
    nodes.emplace(*path, state_->make_node(file_type::regular, std::make_shared<const std::string>(content), now));
  }
}

inline bool memory_fs::valid(std::string_view path) noexcept {
  if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos) return false;
  if (path == "/") return true;
  for (std::size_t i = 1;;) {
    std::size_t j = path.find('/', i);
    std::string_view part = path.substr(i, j == std::string_view::npos ? j : j - i);
    if (part.empty() || part == "." || part == "..") return false;
    if (j == std::string_view::npos) return true;
    i = j + 1;
  }
}

// Reports a missing entry as a kernel path walk would: the first missing component makes
// it not_found, a file used as a directory on the way not_a_directory.
inline std::error_code memory_fs::find(node_map& nodes, std::string_view path, node*& out) {
  if (auto it = nodes.find(path); it != nodes.end()) {
    out = &it->second;
    return {};
  }
  for (std::size_t pos = path.find('/', 1); pos != std::string_view::npos; pos = path.find('/', pos + 1)) {
    auto it = nodes.find(path.substr(0, pos));
    if (it == nodes.end()) return make_error_code(storage_errc::not_found);
    if (it->second.type != file_type::directory) return make_error_code(storage_errc::not_a_directory);
  }
  return make_error_code(storage_errc::not_found);
}

inline std::error_code memory_fs::find_parent_dir(node_map& nodes, std::string_view path, node*& out) {
  if (auto ec = find(nodes, parent_path(path), out)) return ec;
  if (out->type != file_type::directory) return make_error_code(storage_errc::not_a_directory);
  return {};
}

inline file_info memory_fs::info(std::string_view name, const node& n) {
  file_info fi;
  fi.name = std::string(name);
  fi.type = n.type;
  fi.size = n.data ? n.data->size() : 0;
  fi.mtime = n.mtime;
  fi.mode = n.mode;
  fi.nlink = n.type == file_type::directory ? 2 : 1;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(n.id));
  fi.unique = hex;
  return fi;
}

inline result<file_info> memory_fs::stat_now(std::string_view path) const {
  if (!valid(path)) return {make_error_code(storage_errc::invalid_name), {}};
  std::lock_guard lock(state_->mutex);
  node* n = nullptr;
  if (auto ec = find(state_->nodes, path, n)) return {ec, {}};
  return {{}, info(file_name(path), *n)};
}

inline result<memory_fs::directory> memory_fs::open_directory_now(std::string_view path) const {
  if (!valid(path)) return {make_error_code(storage_errc::invalid_name), directory{}};
  std::lock_guard lock(state_->mutex);
  node* n = nullptr;
  if (auto ec = find(state_->nodes, path, n)) return {ec, directory{}};
  if (n->type != file_type::directory) return {make_error_code(storage_errc::not_a_directory), directory{}};
  return {{}, directory(state_, path == "/" ? std::string("/") : std::string(path) + '/')};
}

inline void memory_fs::directory::read_now(std::vector<file_info>& entries) {
  entries.clear();
  if (!state_) return;
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  auto it = nodes.lower_bound(next_);
  while (it != nodes.end() && it->first.starts_with(prefix_) && entries.size() < listing_batch) {
    std::string_view rest = std::string_view(it->first).substr(prefix_.size());
    if (rest.empty()) {  // "/" itself
      ++it;
      continue;
    }
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      // Inside a child directory's subtree: jump past all of it.
      it = nodes.lower_bound(subtree_end(prefix_ + std::string(rest.substr(0, slash))));
      continue;
    }
    entries.push_back(info(rest, it->second));
    ++it;
  }
  if (it == nodes.end() || !it->first.starts_with(prefix_)) {
    state_.reset();
  } else {
    next_ = it->first;
  }
}

inline result<memory_fs::reader> memory_fs::open_read_now(std::string_view path, std::uint64_t offset) const {
  if (!valid(path)) return {make_error_code(storage_errc::invalid_name), {}};
  std::lock_guard lock(state_->mutex);
  node* n = nullptr;
  if (auto ec = find(state_->nodes, path, n)) return {ec, {}};
  if (n->type == file_type::directory) return {make_error_code(storage_errc::is_a_directory), {}};
  return {{}, reader(n->data, offset)};
}

inline result<memory_fs::writer> memory_fs::open_write_now(std::string_view path, write_mode mode,
                                                          std::uint64_t offset) const {
  if (!valid(path)) return {make_error_code(storage_errc::invalid_name), {}};
  if (offset != 0 && mode != write_mode::replace) return {make_error_code(storage_errc::invalid_offset), {}};
  if (path == "/")
    return {make_error_code(mode == write_mode::create_new ? storage_errc::already_exists : storage_errc::is_a_directory),
            {}};
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  node* parent = nullptr;
  if (auto ec = find_parent_dir(nodes, path, parent)) return {ec, {}};
  auto it = nodes.find(path);
  if (it != nodes.end() && mode == write_mode::create_new) return {make_error_code(storage_errc::already_exists), {}};
  if (it != nodes.end() && it->second.type == file_type::directory)
    return {make_error_code(storage_errc::is_a_directory), {}};
  std::string prefix;
  if (offset > 0) {
    if (it == nodes.end() || !it->second.data || it->second.data->size() < offset)
      return {make_error_code(storage_errc::invalid_offset), {}};
    prefix.assign(*it->second.data, 0, static_cast<std::size_t>(offset));
  }
  return {{}, writer(state_, std::string(path), mode, std::move(prefix))};
}

inline std::error_code memory_fs::writer::commit_now() {
  if (!state_) return make_error_code(storage_errc::io_error);
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  node* parent = nullptr;
  if (auto ec = find_parent_dir(nodes, path_, parent)) return ec;
  const auto now = clock::now();
  auto it = nodes.find(path_);
  if (it != nodes.end() && it->second.type == file_type::directory)
    return make_error_code(storage_errc::is_a_directory);
  if (it != nodes.end() && mode_ == write_mode::create_new) return make_error_code(storage_errc::already_exists);
  if (it == nodes.end()) {
    it = nodes.emplace(path_, state_->make_node(file_type::regular, nullptr, now)).first;
    parent->mtime = now;
  } else if (mode_ == write_mode::append) {
    if (it->second.data && !it->second.data->empty()) data_.insert(0, *it->second.data);
  } else {
    // A replacing upload is a new file under the old name (as an atomic rename makes it
    // on disk): a new id, the old permissions without set-ID or sticky bits.
    it->second.id = state_->next_id++;
    it->second.mode &= 0777;
  }
  it->second.data = std::make_shared<const std::string>(std::move(data_));
  it->second.mtime = now;
  data_.clear();
  state_.reset();
  return {};
}

inline std::error_code memory_fs::make_directory_now(std::string_view path) const {
  if (!valid(path)) return make_error_code(storage_errc::invalid_name);
  if (path == "/") return make_error_code(storage_errc::already_exists);
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  node* parent = nullptr;
  if (auto ec = find_parent_dir(nodes, path, parent)) return ec;
  const auto now = clock::now();
  if (nodes.find(path) != nodes.end()) return make_error_code(storage_errc::already_exists);
  nodes.emplace(std::string(path), state_->make_node(file_type::directory, nullptr, now));
  parent->mtime = now;
  return {};
}

inline std::error_code memory_fs::remove_directory_now(std::string_view path) const {
  if (!valid(path)) return make_error_code(storage_errc::invalid_name);
  if (path == "/") return make_error_code(storage_errc::permission_denied);
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  node* n = nullptr;
  if (auto ec = find(nodes, path, n)) return ec;
  if (n->type != file_type::directory) return make_error_code(storage_errc::not_a_directory);
  const std::string prefix = std::string(path) + '/';
  if (auto it = nodes.lower_bound(prefix); it != nodes.end() && it->first.starts_with(prefix))
    return make_error_code(storage_errc::not_empty);
  nodes.erase(nodes.find(path));
  nodes.find(parent_path(path))->second.mtime = clock::now();
  return {};
}

inline std::error_code memory_fs::remove_file_now(std::string_view path) const {
  if (!valid(path)) return make_error_code(storage_errc::invalid_name);
  if (path == "/") return make_error_code(storage_errc::is_a_directory);
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  node* n = nullptr;
  if (auto ec = find(nodes, path, n)) return ec;
  if (n->type == file_type::directory) return make_error_code(storage_errc::is_a_directory);
  nodes.erase(nodes.find(path));
  nodes.find(parent_path(path))->second.mtime = clock::now();
  return {};
}

inline std::error_code memory_fs::rename_now(std::string_view from, std::string_view to) const {
  if (!valid(from) || !valid(to)) return make_error_code(storage_errc::invalid_name);
  if (from == "/") return make_error_code(storage_errc::permission_denied);
  std::lock_guard lock(state_->mutex);
  auto& nodes = state_->nodes;
  node* n = nullptr;
  if (auto ec = find(nodes, from, n)) return ec;
  if (to == "/" || to == from) return make_error_code(storage_errc::already_exists);
  if (is_within(to, from)) return make_error_code(storage_errc::invalid_name);
  node* to_parent = nullptr;
  if (auto ec = find_parent_dir(nodes, to, to_parent)) return ec;
  if (nodes.find(to) != nodes.end()) return make_error_code(storage_errc::already_exists);

  // Take the entry and its subtree out, then put them back under the new prefix.
  std::vector<std::pair<std::string, node>> moved;
  auto self = nodes.find(from);
  moved.emplace_back(std::string(to), std::move(self->second));
  nodes.erase(self);
  if (moved.front().second.type == file_type::directory) {
    // Not ["/d", "/d0"): "/d.txt" sorts between "/d" and "/d/".
    auto first = nodes.lower_bound(std::string(from) + '/');
    auto last = nodes.lower_bound(subtree_end(from));
    for (auto it = first; it != last; ++it)
      moved.emplace_back(std::string(to) + it->first.substr(from.size()), std::move(it->second));
    nodes.erase(first, last);
  }
  for (auto& [key, value] : moved) nodes.emplace(std::move(key), std::move(value));
  const auto now = clock::now();
  nodes.find(parent_path(from))->second.mtime = now;
  nodes.find(parent_path(to))->second.mtime = now;
  return {};
}

inline std::error_code memory_fs::set_modified_now(std::string_view path, std::chrono::system_clock::time_point t) const {
  if (!valid(path)) return make_error_code(storage_errc::invalid_name);
  std::lock_guard lock(state_->mutex);
  node* n = nullptr;
  if (auto ec = find(state_->nodes, path, n)) return ec;
  n->mtime = t;
  return {};
}

inline std::error_code memory_fs::set_mode_now(std::string_view path, unsigned mode) const {
  if (!valid(path)) return make_error_code(storage_errc::invalid_name);
  std::lock_guard lock(state_->mutex);
  node* n = nullptr;
  if (auto ec = find(state_->nodes, path, n)) return ec;
  n->mode = mode & 07777;
  return {};
}

static_assert(can_set_modified<memory_fs> && can_set_mode<memory_fs>);

}  // namespace coftp
