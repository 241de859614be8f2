// custom_backend.hpp - object_store: a storage backend of its own, the way you would write
// one for your store. The files live in one flat, sorted key/value map, as in an object
// store (S3 and its kin): "docs/a.txt" -> bytes. There are no directory nodes; a directory
// is a marker key ending in "/" ("docs/"), as object-store consoles make them, so that an
// empty directory can exist. Written with coftp::immediate_storage: each operation is a
// synchronous `*_now` function, wrapped into the awaitables of coftp::storage_backend.
//
// It has no permission bits (mode 0), no unique ids, and neither set_modified nor
// set_mode: coftp's optional capabilities are optional. It does have enter_directory
// (the check behind CWD), forwarded by coftp's decorators like every optional operation. The conformance kit
// (coftp/testing/backend_suite.hpp) checks it in tests/test_storage.cpp.
#pragma once

#include <coftp/error.hpp>
#include <coftp/path.hpp>
#include <coftp/storage.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

/// A storage backend over a flat key/value map with directory marker keys.
///
/// Keys are virtual paths without their leading "/": the file "/docs/a.txt" is the key
/// "docs/a.txt", the directory "/docs" the marker key "docs/"; "/" is implicit. Values
/// are immutable snapshots (`std::shared_ptr<const std::string>`), so a reader keeps
/// what it opened while the object is replaced. Copies share the map (and its mutex).
class object_store : public coftp::immediate_storage<object_store> {
  using clock = std::chrono::system_clock;
  struct object {
    std::shared_ptr<const std::string> data;  // null for a directory marker
    clock::time_point mtime;
  };
  using object_map = std::map<std::string, object, std::less<>>;
  struct bucket {
    std::mutex mutex;
    object_map objects;
    clock::time_point created = clock::now();  // the mtime of "/"
  };

 public:
  /// Reads one object's snapshot.
  class reader {
   public:
    reader() = default;

    /// Copies the next bytes into `buf`; 0 bytes and no error at the end.
    asio::awaitable<coftp::result<std::size_t>> read_some(asio::mutable_buffer buf) {
      std::size_t n = 0;
      if (data_ && pos_ < data_->size()) {
        n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), data_->size() - pos_));
        std::memcpy(buf.data(), data_->data() + pos_, n);
        pos_ += n;
      }
      co_return coftp::result<std::size_t>{{}, n};
    }

    /// The size of the snapshot.
    std::uint64_t size() const noexcept { return data_ ? data_->size() : 0; }

    /// No file descriptor: -1.
    int native_handle() const noexcept { return -1; }

   private:
    friend class object_store;
    reader(std::shared_ptr<const std::string> data, std::uint64_t pos) : data_(std::move(data)), pos_(pos) {}

    std::shared_ptr<const std::string> data_;
    std::uint64_t pos_ = 0;
  };

  /// Collects one upload and puts it into the map on `commit()`.
  class writer {
   public:
    writer() = default;

    /// Adds `buf` to the pending object.
    asio::awaitable<std::error_code> write(asio::const_buffer buf) {
      if (!bucket_) co_return make_error_code(coftp::storage_errc::io_error);
      data_.append(static_cast<const char*>(buf.data()), buf.size());
      co_return std::error_code();
    }

    /// Stores the pending object (replace, append or create_new, as opened).
    asio::awaitable<std::error_code> commit() { co_return commit_now(); }

   private:
    friend class object_store;
    writer(std::shared_ptr<bucket> b, std::string key, coftp::write_mode mode, std::string prefix)
        : bucket_(std::move(b)), key_(std::move(key)), mode_(mode), data_(std::move(prefix)) {}
    std::error_code commit_now();

    std::shared_ptr<bucket> bucket_;  // null when default-constructed or committed
    std::string key_;
    coftp::write_mode mode_ = coftp::write_mode::replace;
    std::string data_;
  };

  /// Reads one directory a batch at a time, like an object store's paginated listing:
  /// each batch goes on from the key where the last one stopped (a continuation token).
  class directory {
   public:
    directory() = default;

    /// The next entries (at most coftp::listing_batch), sorted by key; none at the end.
    asio::awaitable<std::error_code> read(std::vector<coftp::file_info>& entries) {
      read_now(entries);
      co_return std::error_code{};
    }

   private:
    friend class object_store;
    directory(std::shared_ptr<bucket> b, std::string prefix) : bucket_(std::move(b)), next_(prefix), prefix_(std::move(prefix)) {}
    void read_now(std::vector<coftp::file_info>& entries) {
      entries.clear();
      if (!bucket_) return;
      std::lock_guard lock(bucket_->mutex);
      const auto& objects = bucket_->objects;
      auto it = objects.lower_bound(next_);
      for (; it != objects.end() && it->first.starts_with(prefix_) && entries.size() < coftp::listing_batch; ++it) {
        const std::string_view rest = std::string_view(it->first).substr(prefix_.size());
        const auto slash = rest.find('/');
        if (rest.empty()) continue;  // the marker of the directory itself
        if (slash == std::string_view::npos) entries.push_back(info(rest, &it->second, *bucket_));  // an object
        else if (slash + 1 == rest.size()) entries.push_back(info(rest.substr(0, slash), &it->second, *bucket_));  // a marker
        // Deeper keys belong to a subdirectory, listed by its marker.
      }
      if (it == objects.end() || !it->first.starts_with(prefix_)) bucket_.reset();
      else next_ = it->first;
    }

    std::shared_ptr<bucket> bucket_;  // null at the end
    std::string next_;                // the key to go on from
    std::string prefix_;              // the directory's key prefix ("" for "/")
  };

  /// An empty store.
  object_store() : bucket_(std::make_shared<bucket>()) {}

  /// The entry at `path`.
  coftp::result<coftp::file_info> stat_now(std::string_view path) const {
    if (!valid(path)) return {invalid_name(), {}};
    std::lock_guard lock(bucket_->mutex);
    const object* o = nullptr;
    if (auto ec = find(bucket_->objects, path, o)) return {ec, {}};
    return {{}, info(coftp::file_name(path), o, *bucket_)};
  }

  /// Whether CWD may enter `path` (coftp::can_enter_directory, optional): a directory
  /// marker or "/". A store with access rules would check them here; this one has none,
  /// so it says what `stat` would (without it, CWD asks `stat`).
  std::error_code enter_directory_now(std::string_view path) const {
    if (!valid(path)) return invalid_name();
    std::lock_guard lock(bucket_->mutex);
    const object* o = nullptr;
    if (auto ec = find(bucket_->objects, path, o)) return ec;
    if (o && o->data) return make_error_code(coftp::storage_errc::not_a_directory);
    return {};
  }

  /// Opens the directory `path`: its objects and the markers just below it.
  coftp::result<directory> open_directory_now(std::string_view path) const {
    if (!valid(path)) return {invalid_name(), {}};
    std::lock_guard lock(bucket_->mutex);
    const object* o = nullptr;
    if (auto ec = find(bucket_->objects, path, o)) return {ec, {}};
    if (o && o->data) return {make_error_code(coftp::storage_errc::not_a_directory), {}};
    return {{}, directory(bucket_, dir_key(path))};
  }

  /// Opens the object `path` for reading at `offset`.
  coftp::result<reader> open_read_now(std::string_view path, std::uint64_t offset) const {
    if (!valid(path)) return {invalid_name(), {}};
    std::lock_guard lock(bucket_->mutex);
    const object* o = nullptr;
    if (auto ec = find(bucket_->objects, path, o)) return {ec, {}};
    if (!o || !o->data) return {make_error_code(coftp::storage_errc::is_a_directory), {}};
    return {{}, reader(o->data, offset)};
  }

  /// Opens `path` for writing; with `offset` (replace only) the upload starts from the
  /// object's first `offset` bytes.
  coftp::result<writer> open_write_now(std::string_view path, coftp::write_mode mode, std::uint64_t offset = 0) const {
    using coftp::storage_errc;
    if (!valid(path)) return {invalid_name(), {}};
    if (offset != 0 && mode != coftp::write_mode::replace) return {make_error_code(storage_errc::invalid_offset), {}};
    std::lock_guard lock(bucket_->mutex);
    const auto& objects = bucket_->objects;
    if (auto ec = check_parent(objects, path)) return {ec, {}};
    const object* o = nullptr;
    const bool exists = !find(objects, path, o);
    if (exists && mode == coftp::write_mode::create_new) return {make_error_code(storage_errc::already_exists), {}};
    if (exists && (!o || !o->data)) return {make_error_code(storage_errc::is_a_directory), {}};
    std::string prefix;
    if (offset > 0) {
      if (!exists || o->data->size() < offset) return {make_error_code(storage_errc::invalid_offset), {}};
      prefix.assign(*o->data, 0, static_cast<std::size_t>(offset));
    }
    return {{}, writer(bucket_, file_key(path), mode, std::move(prefix))};
  }

  /// Creates the directory marker for `path`.
  std::error_code make_directory_now(std::string_view path) const {
    if (!valid(path)) return invalid_name();
    std::lock_guard lock(bucket_->mutex);
    auto& objects = bucket_->objects;
    const object* o = nullptr;
    if (!find(objects, path, o)) return make_error_code(coftp::storage_errc::already_exists);
    if (auto ec = check_parent(objects, path)) return ec;
    objects.emplace(dir_key(path), object{nullptr, clock::now()});
    return {};
  }

  /// Removes the marker of the empty directory `path`.
  std::error_code remove_directory_now(std::string_view path) const {
    using coftp::storage_errc;
    if (!valid(path)) return invalid_name();
    if (path == "/") return make_error_code(storage_errc::permission_denied);
    std::lock_guard lock(bucket_->mutex);
    auto& objects = bucket_->objects;
    const object* o = nullptr;
    if (auto ec = find(objects, path, o)) return ec;
    if (o->data) return make_error_code(storage_errc::not_a_directory);
    auto marker = objects.find(dir_key(path));
    if (auto next = std::next(marker); next != objects.end() && next->first.starts_with(marker->first))
      return make_error_code(storage_errc::not_empty);
    objects.erase(marker);
    return {};
  }

  /// Removes the object `path`.
  std::error_code remove_file_now(std::string_view path) const {
    if (!valid(path)) return invalid_name();
    std::lock_guard lock(bucket_->mutex);
    auto& objects = bucket_->objects;
    const object* o = nullptr;
    if (auto ec = find(objects, path, o)) return ec;
    if (!o || !o->data) return make_error_code(coftp::storage_errc::is_a_directory);
    objects.erase(file_key(path));
    return {};
  }

  /// Renames an object, or a directory by moving its marker and every key beneath it.
  std::error_code rename_now(std::string_view from, std::string_view to) const {
    using coftp::storage_errc;
    if (!valid(from) || !valid(to)) return invalid_name();
    if (from == "/") return make_error_code(storage_errc::permission_denied);
    std::lock_guard lock(bucket_->mutex);
    auto& objects = bucket_->objects;
    const object* o = nullptr;
    if (auto ec = find(objects, from, o)) return ec;
    if (to == "/" || to == from) return make_error_code(storage_errc::already_exists);
    if (coftp::is_within(to, from)) return make_error_code(storage_errc::invalid_name);
    if (auto ec = check_parent(objects, to)) return ec;
    const object* taken = nullptr;
    if (!find(objects, to, taken)) return make_error_code(storage_errc::already_exists);
    if (o->data) {
      auto node = objects.extract(file_key(from));
      node.key() = file_key(to);
      objects.insert(std::move(node));
      return {};
    }
    const std::string old_prefix = dir_key(from), new_prefix = dir_key(to);
    std::vector<std::string> keys;
    for (auto it = objects.lower_bound(old_prefix); it != objects.end() && it->first.starts_with(old_prefix); ++it)
      keys.push_back(it->first);
    for (const auto& key : keys) {
      auto node = objects.extract(key);
      node.key() = new_prefix + key.substr(old_prefix.size());
      objects.insert(std::move(node));
    }
    return {};
  }

 private:
  static std::error_code invalid_name() { return make_error_code(coftp::storage_errc::invalid_name); }

  // A normalized absolute path: no empty, "." or ".." components, no NUL, CR or LF.
  static bool valid(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    auto resolved = coftp::resolve_path("/", path);
    return resolved && *resolved == path;
  }
  static std::string file_key(std::string_view path) { return std::string(path.substr(1)); }
  static std::string dir_key(std::string_view path) {
    return path == "/" ? std::string() : std::string(path.substr(1)) + '/';
  }

  // Finds `path`; `out` is its object, nullptr for "/". Like a path walk: a missing
  // component is not_found, an object used as a directory on the way not_a_directory.
  static std::error_code find(const object_map& objects, std::string_view path, const object*& out) {
    out = nullptr;
    if (path == "/") return {};
    for (std::size_t pos = path.find('/', 1); pos != std::string_view::npos; pos = path.find('/', pos + 1)) {
      const std::string_view dir = path.substr(0, pos);
      if (objects.find(dir_key(dir)) != objects.end()) continue;
      return make_error_code(objects.find(file_key(dir)) != objects.end() ? coftp::storage_errc::not_a_directory
                                                                             : coftp::storage_errc::not_found);
    }
    if (auto it = objects.find(file_key(path)); it != objects.end()) out = &it->second;
    else if (auto dit = objects.find(dir_key(path)); dit != objects.end()) out = &dit->second;
    else return make_error_code(coftp::storage_errc::not_found);
    return {};
  }

  // The parent of `path` exists and is a directory.
  static std::error_code check_parent(const object_map& objects, std::string_view path) {
    const object* parent = nullptr;
    if (auto ec = find(objects, coftp::parent_path(path), parent)) return ec;
    if (parent && parent->data) return make_error_code(coftp::storage_errc::not_a_directory);
    return {};
  }

  // An entry's file_info; the root ("/", no object) has the store's creation time.
  static coftp::file_info info(std::string_view name, const object* o, const bucket& b) {
    coftp::file_info fi;
    fi.name = std::string(name);
    fi.type = o && o->data ? coftp::file_type::regular : coftp::file_type::directory;
    fi.size = o && o->data ? o->data->size() : 0;
    fi.mtime = o ? o->mtime : b.created;
    return fi;  // mode 0 and unique "": this store has neither
  }

  std::shared_ptr<bucket> bucket_;
};

inline std::error_code object_store::writer::commit_now() {
  using coftp::storage_errc;
  if (!bucket_) return make_error_code(storage_errc::io_error);
  auto b = std::move(bucket_);  // committed or failed, the writer is done
  std::lock_guard lock(b->mutex);
  const std::string path = "/" + key_;
  if (auto ec = check_parent(b->objects, path)) return ec;
  const object* o = nullptr;
  const bool exists = !find(b->objects, path, o);
  if (exists && mode_ == coftp::write_mode::create_new) return make_error_code(storage_errc::already_exists);
  if (exists && (!o || !o->data)) return make_error_code(storage_errc::is_a_directory);
  if (exists && mode_ == coftp::write_mode::append) data_.insert(0, *o->data);
  b->objects.insert_or_assign(key_, object{std::make_shared<const std::string>(std::move(data_)), clock::now()});
  data_.clear();
  return {};
}

static_assert(coftp::storage_backend<object_store>);
static_assert(!coftp::can_set_modified<object_store> && !coftp::can_set_mode<object_store>);
static_assert(coftp::can_enter_directory<object_store>);
