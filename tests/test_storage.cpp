// Storage: the conformance kit (coftp/testing/backend_suite.hpp) over every backend
// (memory_fs, local_fs in a fresh temporary directory, also on its fallbacks), then what
// is particular to each: memory_fs's snapshots and ids, local_fs's sandbox (symlinks
// leading out of the root), permissions, temporary files and system call fallbacks.
#include <coftp/storage/local_fs.hpp>
#include <coftp/storage/memory_fs.hpp>
#include <coftp/storage/read_only.hpp>
#include <coftp/storage/rooted.hpp>
#include <coftp/testing/backend_suite.hpp>

#include <doctest/doctest.h>

#include "temp_dir.hpp"

// The example's own backend (examples/custom_backend.hpp), checked by the same kit.
#include "../examples/custom_backend.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using coftp::file_type;
using coftp::storage_errc;
using coftp::write_mode;

using temp_dir = coftp_test::temp_dir;

fs::path make_dir(const fs::path& p) {
  fs::create_directories(p);
  return p;
}

void put_file(const fs::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string get_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct memory_fs_fixture {
  coftp::memory_fs fs;
};

struct local_fs_fixture {
  temp_dir tmp;
  coftp::local_fs fs{make_dir(tmp.path() / "root")};
};

// local_fs on every fallback: no openat2, no O_TMPFILE, the older system calls.
struct local_fs_fallbacks_fixture {
  temp_dir tmp;
  coftp::local_fs fs = make();
  coftp::local_fs make() {
    coftp::local_fs l(make_dir(tmp.path() / "root"));
    l.force_fallbacks({.walk_paths = true, .named_temp_files = true, .legacy_syscalls = true});
    return l;
  }
};

// rooted<memory_fs> at "/sub", with neighbours that must stay invisible: "/sub.txt" and
// "/subway" sort right next to "/sub" and its subtree.
struct rooted_memory_fixture {
  coftp::memory_fs inner{{"/sub.txt", "neighbour"}, {"/subway/x", "x"}, {"/other/y", "y"}};
  coftp::rooted<coftp::memory_fs> fs = make();
  coftp::rooted<coftp::memory_fs> make() {
    REQUIRE_FALSE(inner.make_directory_now("/sub"));
    return {inner, "/sub"};
  }
};

// The example backend, alone and as a rooted view (a backend without set_mode,
// set_modified, modes or unique ids).
struct object_store_fixture {
  object_store fs;
};
struct rooted_object_store_fixture {
  object_store inner;
  coftp::rooted<object_store> fs = make();
  coftp::rooted<object_store> make() {
    REQUIRE_FALSE(inner.make_directory_now("/home"));
    REQUIRE_FALSE(inner.make_directory_now("/home/user"));
    REQUIRE_FALSE(inner.make_directory_now("/home/user2"));
    return {inner, "/home/user"};
  }
};

// rooted<local_fs> at "/a/b" of a directory on disk.
struct rooted_local_fixture {
  temp_dir tmp;
  fs::path root = make_dir(tmp.path() / "root" / "a" / "b");
  coftp::rooted<coftp::local_fs> fs{coftp::local_fs(tmp.path() / "root"), "/a/b"};
};

}  // namespace

using coftp::testing::find_entry;
using coftp::testing::names_in;
using coftp::testing::random_bytes;
using coftp::testing::read_all;
using coftp::testing::run_sync;
using coftp::testing::write_at;
using coftp::testing::write_file;

// --- the contract: the conformance kit over both backends -----------------------------

COFTP_BACKEND_CONFORMANCE(memory_fs_fixture, local_fs_fixture, local_fs_fallbacks_fixture);
COFTP_BACKEND_CONFORMANCE(rooted_memory_fixture, rooted_local_fixture);
COFTP_BACKEND_CONFORMANCE(object_store_fixture, rooted_object_store_fixture);

TEST_SUITE("storage") {

// --- what the kit leaves to each backend ---------------------------------------------------

TEST_CASE_TEMPLATE("storage: copies share the tree across threads", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  constexpr int threads = 4, files = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&failures, copy = f.fs, t]() mutable {
      const std::string dir = "/t" + std::to_string(t);
      if (run_sync(copy.make_directory(dir))) ++failures;
      for (int i = 0; i < files; ++i) {
        const std::string path = dir + "/f" + std::to_string(i);
        const std::string data = random_bytes(1000 + static_cast<std::size_t>(i), static_cast<unsigned>(t * 100 + i));
        if (write_file(copy, path, data)) ++failures;
        if (read_all(copy, path).second != data) ++failures;
        if (write_file(copy, "/shared.log", "x", write_mode::append)) ++failures;
        if (run_sync(copy.rename(path, path + ".done"))) ++failures;
        if (run_sync(coftp::list_all(copy, "/")).first) ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(failures.load() == 0);
  const std::string log = read_all(f.fs, "/shared.log").second;
  if constexpr (std::is_same_v<S, memory_fs_fixture>) {
    CHECK(log == std::string(threads * files, 'x'));  // memory_fs appends at commit, under its lock
  } else {
    // local_fs appends to a copy renamed over the file: of appends racing each other the
    // last commit wins (the header says so), but every version is whole.
    CHECK(log.size() >= 1);
    CHECK(log.size() <= threads * files);
    CHECK(log == std::string(log.size(), 'x'));
  }
  for (int t = 0; t < threads; ++t) CHECK(names_in(f.fs, "/t" + std::to_string(t)).size() == files);
}

// --- decorators ----------------------------------------------------------------------------

static_assert(coftp::storage_backend<coftp::read_only<coftp::memory_fs>>);
static_assert(coftp::storage_backend<coftp::read_only<coftp::local_fs>>);
static_assert(coftp::storage_backend<coftp::rooted<coftp::memory_fs>>);
static_assert(coftp::storage_backend<coftp::rooted<coftp::read_only<coftp::local_fs>>>);
static_assert(coftp::can_set_modified<coftp::read_only<coftp::memory_fs>>);
static_assert(coftp::can_set_mode<coftp::rooted<coftp::local_fs>>);
static_assert(std::is_same_v<coftp::read_only<coftp::local_fs>::reader, coftp::local_fs::reader>);
static_assert(std::is_same_v<coftp::rooted<coftp::memory_fs>::writer, coftp::memory_fs::writer>);
// Optional capabilities are forwarded only when the backend beneath has them.
static_assert(!coftp::can_set_modified<coftp::read_only<object_store>>);
static_assert(!coftp::can_set_mode<coftp::read_only<object_store>>);
static_assert(!coftp::can_set_modified<coftp::rooted<object_store>>);
static_assert(!coftp::can_set_mode<coftp::rooted<coftp::read_only<object_store>>>);
static_assert(coftp::can_enter_directory<coftp::rooted<coftp::read_only<object_store>>>);
static_assert(coftp::can_enter_directory<coftp::rooted<coftp::read_only<coftp::local_fs>>>);
static_assert(!coftp::can_enter_directory<coftp::read_only<coftp::memory_fs>>);  // CWD asks stat
static_assert(coftp::storage_backend<coftp::rooted<coftp::read_only<object_store>>>);

namespace {

// Everything observable about a tree: path -> type, size, mode, mtime, unique, content.
template <class FS>
std::map<std::string, std::string> snapshot(FS& fs, const std::string& dir = "/") {
  std::map<std::string, std::string> out;
  auto [ec, entries] = run_sync(coftp::list_all(fs, dir));
  REQUIRE_FALSE(ec);
  for (const auto& e : entries) {
    const std::string path = (dir == "/" ? "" : dir) + "/" + e.name;
    std::string desc = std::to_string(int(e.type)) + " " + std::to_string(e.size) + " " + std::to_string(e.mode) +
                       " " + std::to_string(e.mtime.time_since_epoch().count()) + " " + e.unique;
    if (e.is_regular()) desc += " " + read_all(fs, path).second;
    out[path] = desc;
    if (e.is_directory()) out.merge(snapshot(fs, path));
  }
  return out;
}

// Every mutation through `ro` fails with permission_denied.
template <class RO>
void check_every_change_refused(RO& ro) {
  for (auto mode : {write_mode::replace, write_mode::append, write_mode::create_new}) {
    CAPTURE(static_cast<int>(mode));
    for (const char* path : {"/a.txt", "/new.txt", "/d/b.txt", "/d", "/", "/missing/x"}) {
      CAPTURE(path);
      auto [ec, w] = run_sync(ro.open_write(path, mode, 0));
      CHECK(ec == storage_errc::permission_denied);
      CHECK(run_sync(w.commit()));  // what comes back is an inert writer
    }
  }
  CHECK(write_at(ro, "/a.txt", 2, "xx") == storage_errc::permission_denied);
  CHECK(write_file(ro, "/a.txt", "xx") == storage_errc::permission_denied);
  CHECK(run_sync(ro.make_directory("/newdir")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.make_directory("/d")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.remove_directory("/empty")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.remove_directory("/d")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.remove_file("/a.txt")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.remove_file("/missing")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.rename("/a.txt", "/b.txt")) == storage_errc::permission_denied);
  CHECK(run_sync(ro.rename("/d", "/e")) == storage_errc::permission_denied);
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1));
  CHECK(run_sync(ro.set_modified("/a.txt", t)) == storage_errc::permission_denied);
  CHECK(run_sync(ro.set_mode("/a.txt", 0777)) == storage_errc::permission_denied);
  CHECK(run_sync(ro.set_mode("/d", 0700)) == storage_errc::permission_denied);
}

}  // namespace

TEST_CASE("read_only: reads pass through, every change is refused, nothing changes beneath") {
  coftp::memory_fs inner{{"/a.txt", "hello world"}, {"/d/b.txt", "b"}};
  REQUIRE_FALSE(inner.make_directory_now("/empty"));
  coftp::read_only<coftp::memory_fs> ro{inner};
  const auto before = snapshot(inner);
  REQUIRE(before.size() == 4);

  CHECK(read_all(ro, "/a.txt").second == "hello world");
  CHECK(read_all(ro, "/a.txt", 6).second == "world");
  CHECK(read_all(ro, "/d/b.txt").second == "b");
  CHECK(names_in(ro, "/") == std::set<std::string>{"a.txt", "d", "empty"});
  auto [ec, info] = run_sync(ro.stat("/a.txt"));
  REQUIRE_FALSE(ec);
  CHECK(info.size == 11);
  CHECK(info.unique == run_sync(inner.stat("/a.txt")).second.unique);
  CHECK(run_sync(ro.stat("/missing")).first == storage_errc::not_found);
  CHECK(run_sync(ro.open_read("/d", 0)).first == storage_errc::is_a_directory);
  CHECK(snapshot(ro) == before);

  check_every_change_refused(ro);
  CHECK(snapshot(inner) == before);

  // The owner still changes the backend beneath; the view shows it.
  REQUIRE_FALSE(write_file(ro.inner(), "/a.txt", "changed"));
  CHECK(read_all(ro, "/a.txt").second == "changed");
}

TEST_CASE("read_only: over local_fs, the directory on disk stays as it was") {
  temp_dir tmp;
  const fs::path root = make_dir(tmp.path() / "root");
  put_file(root / "a.txt", "hello world");
  make_dir(root / "d");
  make_dir(root / "empty");
  put_file(root / "d" / "b.txt", "b");
  coftp::read_only<coftp::local_fs> ro{coftp::local_fs(root)};
  const auto before = snapshot(ro);
  REQUIRE(before.size() == 4);
  auto [ec, r] = run_sync(ro.open_read("/a.txt", 0));
  REQUIRE_FALSE(ec);
  CHECK(r.native_handle() >= 0);  // the sendfile path stays open to a read-only view
  CHECK(read_all(ro, "/d/b.txt").second == "b");

  check_every_change_refused(ro);
  CHECK(snapshot(ro) == before);
  CHECK(get_file(root / "a.txt") == "hello world");
  CHECK(std::distance(fs::directory_iterator(root), fs::directory_iterator()) == 3);
  CHECK(std::distance(fs::directory_iterator(root / "d"), fs::directory_iterator()) == 1);
}

TEST_CASE("rooted: a subtree seen as the whole tree") {
  coftp::memory_fs all{{"/home/alice/a.txt", "alice's"}, {"/home/alice2/x", "not alice's"},
                       {"/home/bob/b.txt", "bob's"}};
  coftp::rooted<coftp::memory_fs> alice{all, "/home/alice"};
  coftp::rooted<coftp::memory_fs> bob{all, "/home/bob"};
  CHECK(alice.root() == "/home/alice");
  CHECK(alice.map("/") == "/home/alice");
  CHECK(alice.map("/x/y") == "/home/alice/x/y");
  CHECK(alice.map("/../bob") == "");

  CHECK(names_in(alice, "/") == std::set<std::string>{"a.txt"});
  CHECK(read_all(alice, "/a.txt").second == "alice's");
  auto [ec, root] = run_sync(alice.stat("/"));
  REQUIRE_FALSE(ec);
  CHECK(root.name == "");
  CHECK(root.is_directory());
  CHECK(root.unique == run_sync(all.stat("/home/alice")).second.unique);
  CHECK(run_sync(alice.stat("/a.txt")).second.name == "a.txt");

  // Nothing outside can be named: paths that are not normalized are refused outright.
  for (const char* bad : {"/../bob/b.txt", "/./a.txt", "a.txt", "", "/a.txt/", "//a.txt", "/x/../a.txt"}) {
    CAPTURE(bad);
    CHECK(run_sync(alice.stat(bad)).first == storage_errc::invalid_name);
    CHECK(read_all(alice, bad).first == storage_errc::invalid_name);
    CHECK(run_sync(coftp::list_all(alice, bad)).first == storage_errc::invalid_name);
    CHECK(write_file(alice, bad, "pwned") == storage_errc::invalid_name);
    CHECK(run_sync(alice.make_directory(bad)) == storage_errc::invalid_name);
    CHECK(run_sync(alice.remove_file(bad)) == storage_errc::invalid_name);
    CHECK(run_sync(alice.remove_directory(bad)) == storage_errc::invalid_name);
    CHECK(run_sync(alice.rename(bad, "/z")) == storage_errc::invalid_name);
    CHECK(run_sync(alice.rename("/a.txt", bad)) == storage_errc::invalid_name);
    CHECK(run_sync(alice.set_mode(bad, 0600)) == storage_errc::invalid_name);
    CHECK(run_sync(alice.set_modified(bad, {})) == storage_errc::invalid_name);
  }
  CHECK(read_all(all, "/home/bob/b.txt").second == "bob's");

  // Changes land beneath the root, and only there.
  REQUIRE_FALSE(write_file(alice, "/new.txt", "n"));
  REQUIRE_FALSE(run_sync(alice.make_directory("/dir")));
  REQUIRE_FALSE(run_sync(alice.rename("/new.txt", "/dir/moved.txt")));
  CHECK(read_all(all, "/home/alice/dir/moved.txt").second == "n");
  REQUIRE_FALSE(run_sync(alice.set_mode("/a.txt", 0600)));
  CHECK(run_sync(all.stat("/home/alice/a.txt")).second.mode == 0600);
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1000000));
  REQUIRE_FALSE(run_sync(alice.set_modified("/dir", t)));
  CHECK(run_sync(all.stat("/home/alice/dir")).second.mtime == t);
  CHECK(names_in(all, "/home") == std::set<std::string>{"alice", "alice2", "bob"});
  CHECK(names_in(bob, "/") == std::set<std::string>{"b.txt"});

  // The root itself cannot go away through the view.
  CHECK(run_sync(alice.remove_directory("/")) == storage_errc::permission_denied);
  CHECK(run_sync(alice.rename("/", "/elsewhere")) == storage_errc::permission_denied);
  CHECK(run_sync(alice.rename("/dir", "/")) == storage_errc::already_exists);
  CHECK(run_sync(all.stat("/home/alice")).second.is_directory());

  // A root that does not exist: every operation says so.
  coftp::rooted<coftp::memory_fs> ghost{all, "/home/ghost"};
  CHECK(run_sync(ghost.stat("/")).first == storage_errc::not_found);
  CHECK(run_sync(coftp::list_all(ghost, "/")).first == storage_errc::not_found);
  CHECK(write_file(ghost, "/x", "x") == storage_errc::not_found);
  CHECK(run_sync(ghost.make_directory("/x")) == storage_errc::not_found);
  CHECK(names_in(all, "/home") == std::set<std::string>{"alice", "alice2", "bob"});

  // "/" as the root is the whole tree.
  coftp::rooted<coftp::memory_fs> whole{all, "/"};
  CHECK(names_in(whole, "/") == std::set<std::string>{"home"});
  CHECK(read_all(whole, "/home/bob/b.txt").second == "bob's");

  for (const char* bad_root : {"", "home", "/home/", "/home/../etc", "/home//alice", "/./home"}) {
    CAPTURE(bad_root);
    CHECK_THROWS_AS((coftp::rooted<coftp::memory_fs>{all, bad_root}), std::invalid_argument);
  }
}

TEST_CASE("rooted and read_only compose") {
  coftp::memory_fs all{{"/pub/readme", "read me"}, {"/private/key", "secret"}};
  coftp::rooted<coftp::read_only<coftp::memory_fs>> pub{coftp::read_only<coftp::memory_fs>{all}, "/pub"};
  CHECK(read_all(pub, "/readme").second == "read me");
  CHECK(names_in(pub, "/") == std::set<std::string>{"readme"});
  CHECK(write_file(pub, "/readme", "x") == storage_errc::permission_denied);
  CHECK(run_sync(pub.set_mode("/readme", 0777)) == storage_errc::permission_denied);
  CHECK(run_sync(pub.stat("/../private/key")).first == storage_errc::invalid_name);
  CHECK(read_all(all, "/pub/readme").second == "read me");
}

// --- memory_fs only ----------------------------------------------------------------------

TEST_CASE("memory_fs: initializer list creates files and parents") {
  coftp::memory_fs fs{{"/a.txt", "hello"}, {"/dir/sub/b.txt", "x"}};
  CHECK(read_all(fs, "/a.txt").second == "hello");
  CHECK(read_all(fs, "/dir/sub/b.txt").second == "x");
  CHECK(run_sync(fs.stat("/dir/sub")).second.type == file_type::directory);
  CHECK(run_sync(fs.stat("/dir")).second.mode == 0755);
  CHECK(run_sync(fs.stat("/a.txt")).second.mode == 0644);
  coftp::memory_fs one{{"/only", "1"}};
  CHECK(names_in(one, "/") == std::set<std::string>{"only"});
  coftp::memory_fs copy = fs;  // copies share the tree
  REQUIRE_FALSE(write_file(copy, "/new", "n"));
  CHECK(read_all(fs, "/new").second == "n");
  CHECK_THROWS_AS((coftp::memory_fs{{"/a", "1"}, {"/a/b", "2"}}), std::invalid_argument);
  CHECK_THROWS_AS((coftp::memory_fs{{"relative", "1"}}), std::invalid_argument);
  CHECK(run_sync(fs.open_read("/a.txt", 0)).second.native_handle() == -1);
}

TEST_CASE("memory_fs: an append is invisible before commit") {
  coftp::memory_fs fs{{"/log", "ab"}};
  auto [ec, w] = run_sync(fs.open_write("/log", write_mode::append));
  REQUIRE_FALSE(ec);
  CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("cd")))));
  CHECK(read_all(fs, "/log").second == "ab");
  REQUIRE_FALSE(write_file(fs, "/log", "XY", write_mode::append));  // a concurrent append commits first
  CHECK_FALSE(run_sync(w.commit()));
  CHECK(read_all(fs, "/log").second == "abXYcd");
}

TEST_CASE("memory_fs: ids, modes and times of new, replaced and renamed entries") {
  coftp::memory_fs fs{{"/a", "1"}, {"/d/b", "2"}};
  auto a = run_sync(fs.stat("/a")).second;
  CHECK(a.unique != "");
  CHECK(a.mode == 0644);
  CHECK(run_sync(fs.stat("/d")).second.mode == 0755);
  REQUIRE_FALSE(run_sync(fs.set_mode("/a", 06755)));
  CHECK(run_sync(fs.stat("/a")).second.mode == 06755);
  // A replacing upload is a new file: new id, old mode without set-ID bits.
  REQUIRE_FALSE(write_file(fs, "/a", "v2"));
  auto replaced = run_sync(fs.stat("/a")).second;
  CHECK(replaced.unique != a.unique);
  CHECK(replaced.mode == 0755);
  // A copy shares the ids.
  coftp::memory_fs copy = fs;
  CHECK(run_sync(copy.stat("/a")).second.unique == replaced.unique);
  // Times before 1970 and far ahead are kept as given.
  const auto early = std::chrono::system_clock::time_point(std::chrono::seconds(-86400));
  REQUIRE_FALSE(run_sync(fs.set_modified("/d/b", early)));
  CHECK(run_sync(fs.stat("/d/b")).second.mtime == early);
}

TEST_CASE("memory_fs: commit fails if the parent went away") {
  coftp::memory_fs fs;
  REQUIRE_FALSE(run_sync(fs.make_directory("/d")));
  auto [ec, w] = run_sync(fs.open_write("/d/a", write_mode::replace));
  REQUIRE_FALSE(ec);
  REQUIRE_FALSE(run_sync(fs.remove_directory("/d")));
  CHECK(run_sync(w.commit()) == storage_errc::not_found);
  CHECK(names_in(fs, "/").empty());
}

// --- local_fs only -----------------------------------------------------------------------

namespace {

// base/root is served; everything else in base is outside the sandbox.
struct sandbox {
  temp_dir tmp;
  fs::path root = make_dir(tmp.path() / "root");
  fs::path outside_dir = make_dir(tmp.path() / "outside");
  fs::path root2 = make_dir(tmp.path() / "root2");

  sandbox() {
    put_file(outside_dir / "secret.txt", "secret");
    put_file(tmp.path() / "outside.txt", "outside");
    put_file(root2 / "r2.txt", "r2");
    make_dir(root / "in");
    make_dir(root / "sub");
    put_file(root / "in" / "x.txt", "inside");
    // Leading out of the root.
    fs::create_directory_symlink("../outside", root / "link_dir");
    fs::create_directory_symlink(outside_dir, root / "abs_dir");
    fs::create_directory_symlink("../root2", root / "to_root2");
    fs::create_directory_symlink("../../outside", root / "sub" / "deep_escape");
    fs::create_directory_symlink("/", root / "slash");
    fs::create_directory_symlink("/proc/self/root" + outside_dir.string(), root / "magic");
    fs::create_symlink("../outside.txt", root / "link_file");
    fs::create_symlink(tmp.path() / "outside.txt", root / "abs_file");
    fs::create_symlink("../created_outside.txt", root / "dangling_out");
    // Staying inside.
    fs::create_directory_symlink("in", root / "link_in");
    fs::create_symlink("in/x.txt", root / "link_in_file");
    fs::create_directory_symlink("../in", root / "sub" / "up_in");
    fs::create_symlink("in/not_yet.txt", root / "dangling_in");
  }
};

}  // namespace

TEST_CASE("local_fs: symlinks leading out of the root are never followed") {
  sandbox sb;
  const auto epoch = std::chrono::system_clock::time_point();
  const auto host_state = [](const fs::path& p) {
    struct ::stat st {};
    ::stat(p.c_str(), &st);
    return std::pair(st.st_mode, st.st_mtim.tv_sec);
  };
  const auto secret_before = host_state(sb.outside_dir / "secret.txt");
  const auto outside_before = host_state(sb.tmp.path() / "outside.txt");
  const auto outside_dir_before = host_state(sb.outside_dir);
  for (auto [walk, legacy] : {std::pair(false, false), std::pair(true, false), std::pair(false, true)}) {
    CAPTURE(walk);
    CAPTURE(legacy);
    coftp::local_fs lfs(sb.root);
    lfs.force_fallbacks({.walk_paths = walk, .named_temp_files = false, .legacy_syscalls = legacy});

    for (std::string dir : {"/link_dir", "/abs_dir", "/to_root2", "/sub/deep_escape", "/slash", "/magic"}) {
      CAPTURE(dir);
      // Through "/slash" aim at our own outside file, never at a system file.
      const std::string inner = dir == "/to_root2" ? "/r2.txt"
                                : dir == "/slash"  ? (sb.outside_dir / "secret.txt").string()
                                                   : "/secret.txt";
      CHECK(run_sync(coftp::list_all(lfs, dir)).first == storage_errc::permission_denied);
      CHECK(run_sync(lfs.stat(dir + inner)).first == storage_errc::permission_denied);
      CHECK(read_all(lfs, dir + inner).first == storage_errc::permission_denied);
      CHECK(write_file(lfs, dir + "/new.txt", "x") == storage_errc::permission_denied);
      CHECK(write_file(lfs, dir + "/new.txt", "x", write_mode::append) == storage_errc::permission_denied);
      CHECK(write_file(lfs, dir + inner, "pwned") == storage_errc::permission_denied);
      CHECK(write_file(lfs, dir + inner, "pwned", write_mode::append) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.make_directory(dir + "/newdir")) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.remove_file(dir + inner)) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.remove_directory(dir + "/x")) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.rename(dir + inner, "/stolen.txt")) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.rename("/in/x.txt", dir + "/planted.txt")) == storage_errc::permission_denied);
      CHECK(write_at(lfs, dir + inner, 1, "pwned") == storage_errc::permission_denied);
      CHECK(write_file(lfs, dir + "/new.txt", "x", write_mode::create_new) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.set_mode(dir + inner, 0777)) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.set_mode(dir, 0777)) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.set_modified(dir + inner, epoch)) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.set_modified(dir, epoch)) == storage_errc::permission_denied);
      CHECK(read_all(lfs, dir, 0).first);  // not readable as a file either
      // The link itself is an entry of the root, reported as a symlink.
      auto [ec, info] = run_sync(lfs.stat(dir));
      REQUIRE_FALSE(ec);
      CHECK(info.type == file_type::symlink);
    }
    for (std::string file : {"/link_file", "/abs_file"}) {
      CAPTURE(file);
      CHECK(read_all(lfs, file).first == storage_errc::permission_denied);
      CHECK(write_at(lfs, file, 1, "pwned") == storage_errc::permission_denied);
      CHECK(write_file(lfs, file, "pwned", write_mode::create_new) == storage_errc::already_exists);
      CHECK(run_sync(lfs.set_mode(file, 0777)) == storage_errc::permission_denied);
      CHECK(run_sync(lfs.set_modified(file, epoch)) == storage_errc::permission_denied);
      CHECK(write_file(lfs, file, "pwned") == storage_errc::permission_denied);
      CHECK(write_file(lfs, file, "pwned", write_mode::append) == storage_errc::permission_denied);
      CHECK(run_sync(coftp::list_all(lfs, file)).first == storage_errc::permission_denied);
      auto [ec, info] = run_sync(lfs.stat(file));
      REQUIRE_FALSE(ec);
      CHECK(info.type == file_type::symlink);
    }
    CHECK(write_file(lfs, "/dangling_out", "x", write_mode::append) == storage_errc::permission_denied);
    CHECK(write_file(lfs, "/dangling_out", "x") == storage_errc::permission_denied);
    CHECK(write_file(lfs, "/dangling_out", "x", write_mode::create_new) == storage_errc::already_exists);
    CHECK_FALSE(fs::exists(sb.tmp.path() / "created_outside.txt"));

    // Non-normalized paths are refused outright, never resolved.
    CHECK(run_sync(lfs.stat("/../root2/r2.txt")).first);
    CHECK(read_all(lfs, "/../root2/r2.txt").first);
    CHECK(read_all(lfs, "/in/../../root2/r2.txt").first);
    CHECK(run_sync(coftp::list_all(lfs, "/..")).first);
    CHECK(run_sync(lfs.stat("relative")).first);
    CHECK(run_sync(lfs.stat("/root2")).first == storage_errc::not_found);

    // The listing shows escaping links as symlinks with lstat data.
    auto [ec, entries] = run_sync(coftp::list_all(lfs, "/"));
    REQUIRE_FALSE(ec);
    for (const char* name : {"link_dir", "abs_dir", "to_root2", "link_file", "abs_file", "slash", "magic"}) {
      CAPTURE(name);
      auto e = find_entry(entries, name);
      REQUIRE(e != nullptr);
      CHECK(e->type == file_type::symlink);
    }
  }
  // Nothing outside was touched.
  CHECK(host_state(sb.outside_dir / "secret.txt") == secret_before);
  CHECK(host_state(sb.tmp.path() / "outside.txt") == outside_before);
  CHECK(host_state(sb.outside_dir) == outside_dir_before);
  CHECK(get_file(sb.outside_dir / "secret.txt") == "secret");
  CHECK(get_file(sb.tmp.path() / "outside.txt") == "outside");
  CHECK(get_file(sb.root2 / "r2.txt") == "r2");
  CHECK(std::distance(fs::directory_iterator(sb.outside_dir), fs::directory_iterator()) == 1);
  CHECK(std::distance(fs::directory_iterator(sb.root2), fs::directory_iterator()) == 1);
  CHECK_FALSE(fs::exists(sb.root / "stolen.txt"));
}

TEST_CASE("local_fs: the links themselves can be removed and renamed") {
  sandbox sb;
  coftp::local_fs lfs(sb.root);
  CHECK_FALSE(run_sync(lfs.remove_file("/link_file")));
  CHECK(run_sync(lfs.remove_directory("/link_dir")) == storage_errc::not_a_directory);
  CHECK_FALSE(run_sync(lfs.remove_file("/link_dir")));  // a link to a directory is a file here
  CHECK_FALSE(run_sync(lfs.rename("/abs_dir", "/in/moved_link")));
  CHECK(run_sync(coftp::list_all(lfs, "/in/moved_link")).first == storage_errc::permission_denied);  // still leads out
  CHECK(run_sync(lfs.stat("/in/moved_link")).second.type == file_type::symlink);
  CHECK(get_file(sb.tmp.path() / "outside.txt") == "outside");
  CHECK(get_file(sb.outside_dir / "secret.txt") == "secret");
  CHECK_FALSE(fs::exists(fs::symlink_status(sb.root / "link_file")));
}

TEST_CASE("local_fs: symlinks staying inside the root work") {
  sandbox sb;
  coftp::local_fs lfs(sb.root);
  CHECK(read_all(lfs, "/link_in/x.txt").second == "inside");
  CHECK(read_all(lfs, "/link_in_file").second == "inside");
  CHECK(read_all(lfs, "/sub/up_in/x.txt").second == "inside");
  CHECK(names_in(lfs, "/link_in") == std::set<std::string>{"x.txt"});
  CHECK(names_in(lfs, "/sub/up_in") == std::set<std::string>{"x.txt"});
  CHECK(run_sync(lfs.stat("/link_in")).second.type == file_type::directory);
  auto [ec, file] = run_sync(lfs.stat("/link_in_file"));
  REQUIRE_FALSE(ec);
  CHECK(file.type == file_type::regular);
  CHECK(file.size == 6);
  CHECK(file.name == "link_in_file");

  auto [lec, entries] = run_sync(coftp::list_all(lfs, "/"));
  REQUIRE_FALSE(lec);
  REQUIRE(find_entry(entries, "link_in") != nullptr);
  CHECK(find_entry(entries, "link_in")->type == file_type::directory);
  CHECK(find_entry(entries, "link_in_file")->type == file_type::regular);
  CHECK(find_entry(entries, "link_in_file")->size == 6);
  CHECK(find_entry(entries, "dangling_in")->type == file_type::symlink);

  // Writing through a directory link stays inside.
  REQUIRE_FALSE(write_file(lfs, "/link_in/y.txt", "y"));
  CHECK(get_file(sb.root / "in" / "y.txt") == "y");
  // Appending follows a link to a file inside the root.
  REQUIRE_FALSE(write_file(lfs, "/link_in_file", "+", write_mode::append));
  CHECK(get_file(sb.root / "in" / "x.txt") == "inside+");
  // Replacing a link replaces the link itself, not its target.
  REQUIRE_FALSE(write_file(lfs, "/link_in_file", "replaced"));
  CHECK(get_file(sb.root / "in" / "x.txt") == "inside+");
  CHECK_FALSE(fs::is_symlink(sb.root / "link_in_file"));
  CHECK(read_all(lfs, "/link_in_file").second == "replaced");

  // set_mode, set_modified and a restarted upload follow a link staying inside; the
  // upload replaces the link itself, keeping the start of its target.
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1000000000));
  fs::create_symlink("in/x.txt", sb.root / "link_x");
  CHECK_FALSE(run_sync(lfs.set_mode("/link_x", 0604)));
  CHECK_FALSE(run_sync(lfs.set_modified("/link_x", t)));
  CHECK_FALSE(run_sync(lfs.set_mode("/link_in", 0701)));
  CHECK((fs::status(sb.root / "in" / "x.txt").permissions() & fs::perms::mask) == fs::perms(0604));
  CHECK((fs::status(sb.root / "in").permissions() & fs::perms::mask) == fs::perms(0701));
  CHECK(std::chrono::floor<std::chrono::seconds>(run_sync(lfs.stat("/in/x.txt")).second.mtime) == t);
  CHECK(fs::is_symlink(sb.root / "link_x"));
  fs::permissions(sb.root / "in", fs::perms(0755));
  put_file(sb.root / "in" / "x.txt", "inside+");
  fs::create_symlink("in/x.txt", sb.root / "link_rest");
  REQUIRE_FALSE(write_at(lfs, "/link_rest", 3, "IDE"));
  CHECK(read_all(lfs, "/link_rest").second == "insIDE");
  CHECK(get_file(sb.root / "in" / "x.txt") == "inside+");
  CHECK_FALSE(fs::is_symlink(sb.root / "link_rest"));
  CHECK(write_file(lfs, "/link_x", "x", write_mode::create_new) == storage_errc::already_exists);
  CHECK(write_file(lfs, "/dangling_in", "x", write_mode::create_new) == storage_errc::already_exists);
  CHECK_FALSE(fs::exists(sb.root / "in" / "not_yet.txt"));

  // With the older system calls, set_mode and set_modified refuse a link as the last
  // component, even one staying inside.
  lfs.force_fallbacks({.walk_paths = false, .named_temp_files = false, .legacy_syscalls = true});
  CHECK(run_sync(lfs.set_mode("/link_x", 0600)) == storage_errc::permission_denied);
  CHECK(run_sync(lfs.set_modified("/link_x", t)) == storage_errc::permission_denied);
  CHECK_FALSE(run_sync(lfs.set_mode("/link_in/x.txt", 0640)));  // links before the last component are fine
  CHECK((fs::status(sb.root / "in" / "x.txt").permissions() & fs::perms::mask) == fs::perms(0640));

  // Without openat2 every symlink is refused, even one staying inside.
  lfs.force_fallbacks({.walk_paths = true, .named_temp_files = false});
  CHECK(run_sync(lfs.set_mode("/link_in/x.txt", 0600)) == storage_errc::permission_denied);
  CHECK(run_sync(lfs.set_mode("/link_x", 0600)) == storage_errc::permission_denied);
  CHECK(read_all(lfs, "/link_in/x.txt").first == storage_errc::permission_denied);
  CHECK(run_sync(coftp::list_all(lfs, "/link_in")).first == storage_errc::permission_denied);
  CHECK(run_sync(lfs.stat("/link_in")).second.type == file_type::symlink);
  CHECK(read_all(lfs, "/in/x.txt").second == "inside+");
}

TEST_CASE("local_fs: the component walk fallback serves ordinary paths") {
  sandbox sb;
  coftp::local_fs lfs(sb.root);
  lfs.force_fallbacks({.walk_paths = true, .named_temp_files = true});
  REQUIRE_FALSE(run_sync(lfs.make_directory("/w")));
  REQUIRE_FALSE(run_sync(lfs.make_directory("/w/v")));
  REQUIRE_FALSE(write_file(lfs, "/w/v/f.txt", "walked"));
  REQUIRE_FALSE(write_file(lfs, "/w/v/f.txt", "+", write_mode::append));
  CHECK(read_all(lfs, "/w/v/f.txt").second == "walked+");
  CHECK(read_all(lfs, "/w/v/f.txt", 3).second == "ked+");
  CHECK(names_in(lfs, "/w/v") == std::set<std::string>{"f.txt"});
  CHECK(run_sync(lfs.stat("/w/v/missing")).first == storage_errc::not_found);
  CHECK(run_sync(lfs.stat("/w/v/f.txt/x")).first == storage_errc::not_a_directory);
  CHECK(run_sync(coftp::list_all(lfs, "/w/v/f.txt")).first == storage_errc::not_a_directory);
  CHECK(run_sync(lfs.stat("/")).second.type == file_type::directory);
  CHECK(names_in(lfs, "/").count("w") == 1);
}

TEST_CASE("local_fs: uploads keep permissions and leave no temporary files") {
  for (bool named : {false, true}) {
    CAPTURE(named);
    temp_dir tmp;
    const fs::path root = make_dir(tmp.path() / "root");
    coftp::local_fs lfs(root);
    lfs.force_fallbacks({.walk_paths = false, .named_temp_files = named});

    REQUIRE_FALSE(write_file(lfs, "/private", "v1"));
    ::chmod((root / "private").c_str(), 0600);
    REQUIRE_FALSE(write_file(lfs, "/private", "v2"));
    CHECK(run_sync(lfs.stat("/private")).second.mode == 0600);
    ::chmod((root / "private").c_str(), 04755);  // set-ID bits are not carried over
    REQUIRE_FALSE(write_file(lfs, "/private", "v3"));
    CHECK(run_sync(lfs.stat("/private")).second.mode == 0755);
    CHECK(read_all(lfs, "/private").second == "v3");

    const ::mode_t mask = ::umask(022);
    ::umask(mask);
    REQUIRE_FALSE(write_file(lfs, "/fresh", "x"));
    CHECK(run_sync(lfs.stat("/fresh")).second.mode == (0644u & ~static_cast<unsigned>(mask)));

    {
      auto [ec, w] = run_sync(lfs.open_write("/fresh", write_mode::replace));
      REQUIRE_FALSE(ec);
      CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("abandoned")))));
      // The named file exists on disk meanwhile, and is never listed.
      CHECK(std::distance(fs::directory_iterator(root), fs::directory_iterator()) == (named ? 3 : 2));
      CHECK(names_in(lfs, "/") == std::set<std::string>{"fresh", "private"});
    }
    CHECK(names_in(lfs, "/") == std::set<std::string>{"fresh", "private"});
    CHECK(std::distance(fs::directory_iterator(root), fs::directory_iterator()) == 2);
    CHECK(read_all(lfs, "/fresh").second == "x");

    auto [ec, r] = run_sync(lfs.open_read("/fresh", 0));
    REQUIRE_FALSE(ec);
    CHECK(r.native_handle() >= 0);
    CHECK(r.size() == 1);
  }
}

// local_fs writes a file aside (a replacement, an append's copy, a restarted upload) by
// one of four code paths: into an O_TMPFILE or a named temporary file, with the newer
// system calls or the older ones.
struct write_path {
  bool named, legacy;
};

/// Runs `body(lfs, root, path)` once on each of those paths, each in a fresh root.
template <class F>
void on_every_write_path(F body) {
  for (write_path path : {write_path{false, false}, write_path{true, false}, write_path{false, true},
                          write_path{true, true}}) {
    CAPTURE(path.named);
    CAPTURE(path.legacy);
    temp_dir tmp;
    const fs::path root = make_dir(tmp.path() / "root");
    coftp::local_fs lfs(root);
    lfs.force_fallbacks({.walk_paths = false, .named_temp_files = path.named, .legacy_syscalls = path.legacy});
    body(lfs, root, path);
  }
}

TEST_CASE("issue #19 - local_fs: an append writes a copy aside, renamed over the file on commit") {
  const auto on_disk = [](const fs::path& dir) {
    return std::distance(fs::directory_iterator(dir), fs::directory_iterator());
  };
  on_every_write_path([&](coftp::local_fs& lfs, const fs::path& root, write_path path) {
    const auto [named, legacy] = path;
    const std::string old_content = random_bytes((1 << 20) + 3, 23);
    put_file(root / "log", old_content);
    ::chmod((root / "log").c_str(), 04640);
    std::string expected = old_content;
    {
      auto [ec, w] = run_sync(lfs.open_write("/log", write_mode::append));
      REQUIRE_FALSE(ec);
      // Zero-copy uploads (splice) write to the descriptor itself: it is at the end of the copy.
      const int fd = w.native_handle();
      REQUIRE(fd >= 0);
      CHECK(::lseek(fd, 0, SEEK_CUR) == static_cast<::off_t>(old_content.size()));
      CHECK(::write(fd, "spliced", 7) == 7);
      CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("+written")))));
      expected += "spliced+written";
      // Nothing of it in the file, on disk either; a named copy is there but never listed.
      CHECK(fs::file_size(root / "log") == old_content.size());
      CHECK(get_file(root / "log") == old_content);
      CHECK(on_disk(root) == (named ? 2 : 1));
      CHECK(names_in(lfs, "/") == std::set<std::string>{"log"});
      CHECK_FALSE(run_sync(w.commit()));
    }
    CHECK(get_file(root / "log") == expected);
    CHECK(run_sync(lfs.stat("/log")).second.mode == 0640);  // the old mode, without set-ID bits
    CHECK(on_disk(root) == 1);

    {  // abandoned: not a byte of it stays
      auto [ec, w] = run_sync(lfs.open_write("/log", write_mode::append));
      REQUIRE_FALSE(ec);
      CHECK_FALSE(run_sync(w.write(asio::buffer(random_bytes(100000, 24)))));
    }
    CHECK(get_file(root / "log") == expected);
    CHECK(on_disk(root) == 1);

    // The new version is a new file: a hard link to the old one keeps the old content.
    fs::create_hard_link(root / "log", root / "log.link");
    REQUIRE_FALSE(write_file(lfs, "/log", "!", write_mode::append));
    CHECK(get_file(root / "log") == expected + "!");
    CHECK(get_file(root / "log.link") == expected);

    // An empty file, and a missing one (created with the default mode).
    REQUIRE_FALSE(write_file(lfs, "/empty", ""));
    REQUIRE_FALSE(write_file(lfs, "/empty", "x", write_mode::append));
    CHECK(get_file(root / "empty") == "x");
    const ::mode_t mask = ::umask(022);
    ::umask(mask);
    REQUIRE_FALSE(write_file(lfs, "/created", "new", write_mode::append));
    CHECK(get_file(root / "created") == "new");
    CHECK(run_sync(lfs.stat("/created")).second.mode == (0644u & ~static_cast<unsigned>(mask)));
    CHECK(on_disk(root) == 4);
  });
}

TEST_CASE("issue #19 - local_fs: leftover upload files are never listed or served; remove_leftovers removes only them") {
  temp_dir tmp;
  const fs::path root = make_dir(tmp.path() / "root");
  const fs::path outside = make_dir(tmp.path() / "outside");
  const std::string leftover = ".coftp-upload.0123456789abcdef", deep = ".coftp-upload.fedcba9876543210";
  put_file(root / leftover, "partial");
  put_file(make_dir(root / "d" / "e") / deep, "partial too");
  put_file(root / "keep.txt", "keep");
  // Not of the exact form: ordinary files, listed, served and kept.
  const std::set<std::string> ordinary{".coftp-upload.0123456789ABCDEF", ".coftp-upload.0123456789abcde",
                                       ".coftp-upload.0123456789abcdef0", ".coftp-upload.notes",
                                       "coftp-upload.0123456789abcdef"};
  for (const auto& name : ordinary) put_file(root / name, name);
  // Of the form but no regular file: hidden like the others, never removed.
  const std::string dir_like = ".coftp-upload.00000000000000aa", link_like = ".coftp-upload.00000000000000bb";
  make_dir(root / dir_like);
  fs::create_symlink("keep.txt", root / link_like);
  // A leftover-named file beyond a symlink, out of the root and in it: the walk follows neither.
  put_file(outside / leftover, "not ours");
  fs::create_directory_symlink("../outside", root / "out");
  fs::create_directory_symlink("d/e", root / "e_link");
  // An ordinary name linking to a leftover: an append through it would write the hidden file.
  fs::create_symlink(leftover, root / "to_leftover");

  coftp::local_fs lfs(root);
  for (bool walk : {false, true}) {
    CAPTURE(walk);
    lfs.force_fallbacks({.walk_paths = walk, .named_temp_files = false});
    std::set<std::string> listed = ordinary;
    listed.insert({"keep.txt", "d", "out", "e_link", "to_leftover"});
    CHECK(names_in(lfs, "/") == listed);
    CHECK(names_in(lfs, "/d/e").empty());
    for (const std::string& p : {"/" + leftover, "/d/e/" + deep, "/" + dir_like, "/" + link_like}) {
      CAPTURE(p);
      CHECK(run_sync(lfs.stat(p)).first == storage_errc::invalid_name);
      CHECK(read_all(lfs, p).first == storage_errc::invalid_name);
      CHECK(write_file(lfs, p, "x") == storage_errc::invalid_name);
      CHECK(write_file(lfs, p, "x", write_mode::append) == storage_errc::invalid_name);
      CHECK(run_sync(lfs.remove_file(p)) == storage_errc::invalid_name);
      CHECK(run_sync(lfs.rename(p, "/stolen")) == storage_errc::invalid_name);
      CHECK(run_sync(lfs.rename("/keep.txt", p)) == storage_errc::invalid_name);
      CHECK(run_sync(lfs.make_directory(p)) == storage_errc::invalid_name);
      CHECK(run_sync(lfs.set_mode(p, 0600)) == storage_errc::invalid_name);
      CHECK(run_sync(lfs.enter_directory(p)) == storage_errc::invalid_name);
    }
    CHECK(run_sync(coftp::list_all(lfs, "/" + dir_like)).first == storage_errc::invalid_name);
    CHECK(read_all(lfs, "/.coftp-upload.notes").second == ".coftp-upload.notes");
    CHECK(read_all(lfs, "/e_link/" + deep).first == storage_errc::invalid_name);
    // Refused (the walk refuses every link before reading it), the leftover untouched.
    if (walk) CHECK(write_file(lfs, "/to_leftover", "x", write_mode::append));
    else CHECK(write_file(lfs, "/to_leftover", "x", write_mode::append) == storage_errc::invalid_name);
    CHECK(get_file(root / leftover) == "partial");
  }
  // An upload under way into a named temporary file is on disk, and hidden too.
  lfs.force_fallbacks({.walk_paths = false, .named_temp_files = true});
  {
    auto [ec, w] = run_sync(lfs.open_write("/d/e/new.txt", write_mode::replace));
    REQUIRE_FALSE(ec);
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("under way")))));
    CHECK(std::distance(fs::directory_iterator(root / "d" / "e"), fs::directory_iterator()) == 2);
    CHECK(names_in(lfs, "/d/e").empty());
  }

  // Bounded: two directories at most, the root and one of its own: the walk stops in the
  // root, before it reads d/e.
  auto [lec, some] = lfs.remove_leftovers(2);
  CHECK(lec == storage_errc::too_many_entries);
  CHECK(fs::exists(root / "d" / "e" / deep));

  auto [ec, removed] = lfs.remove_leftovers();
  CHECK_FALSE(ec);
  CHECK(some + removed == 2);
  CHECK_FALSE(fs::exists(fs::symlink_status(root / leftover)));
  CHECK_FALSE(fs::exists(fs::symlink_status(root / "d" / "e" / deep)));
  CHECK(fs::is_directory(fs::symlink_status(root / dir_like)));
  CHECK(fs::is_symlink(root / link_like));
  for (const auto& name : ordinary) CHECK(get_file(root / name) == name);
  CHECK(get_file(root / "keep.txt") == "keep");
  CHECK(get_file(outside / leftover) == "not ours");
  CHECK(lfs.remove_leftovers().second == 0);
}

TEST_CASE("issue #19 - local_fs: enter_directory needs search permission on the directory") {
  temp_dir tmp;
  const fs::path root = make_dir(tmp.path() / "root");
  make_dir(root / "closed");
  make_dir(root / "read_only");
  make_dir(root / "search_only");
  put_file(root / "f", "x");
  ::chmod((root / "closed").c_str(), 0);
  ::chmod((root / "read_only").c_str(), 0444);
  ::chmod((root / "search_only").c_str(), 0111);
  coftp::local_fs lfs(root);
  for (bool walk : {false, true}) {
    CAPTURE(walk);
    lfs.force_fallbacks({.walk_paths = walk, .named_temp_files = false});
    CHECK_FALSE(run_sync(lfs.enter_directory("/")));
    CHECK_FALSE(run_sync(lfs.enter_directory("/search_only")));
    CHECK(run_sync(lfs.enter_directory("/f")) == storage_errc::not_a_directory);
    CHECK(run_sync(lfs.enter_directory("/missing")) == storage_errc::not_found);
    CHECK(run_sync(lfs.stat("/closed")).second.is_directory());  // all that CWD used to ask
    if (::geteuid() == 0) continue;
    CHECK(run_sync(lfs.enter_directory("/closed")) == storage_errc::permission_denied);
    CHECK(run_sync(lfs.enter_directory("/read_only")) == storage_errc::permission_denied);
    // The decorators forward it.
    coftp::read_only<coftp::local_fs> ro{lfs};
    coftp::rooted<coftp::local_fs> rooted{lfs, "/"};
    static_assert(coftp::can_enter_directory<decltype(ro)> && coftp::can_enter_directory<decltype(rooted)>);
    CHECK(run_sync(ro.enter_directory("/closed")) == storage_errc::permission_denied);
    CHECK(run_sync(rooted.enter_directory("/closed")) == storage_errc::permission_denied);
    CHECK_FALSE(run_sync(rooted.enter_directory("/search_only")));
  }
  if (::geteuid() == 0)
    MESSAGE("skipped the permission checks: running as root, which may search any directory "
            "(the interop test CwdPermissionTests checks them through coftp-server --run-as)");
  for (const char* d : {"closed", "read_only", "search_only"}) ::chmod((root / d).c_str(), 0755);
}

TEST_CASE("local_fs: restarted uploads, create_new, set_mode and set_modified on every code path") {
  on_every_write_path([&](coftp::local_fs& lfs, const fs::path& root, write_path path) {
    const auto [named, legacy] = path;

    // A restarted upload keeps the permission bits (without set-ID) and the kept part.
    const std::string big = random_bytes(1 << 20, 5);
    REQUIRE_FALSE(write_file(lfs, "/p", big));
    ::chmod((root / "p").c_str(), 02640);
    REQUIRE_FALSE(write_at(lfs, "/p", 777777, "tail"));
    CHECK(read_all(lfs, "/p").second == big.substr(0, 777777) + "tail");
    CHECK(run_sync(lfs.stat("/p")).second.mode == 0640);
    CHECK(write_at(lfs, "/p", 777782, "x") == storage_errc::invalid_offset);
    CHECK(run_sync(lfs.stat("/p")).second.size == 777781);

    // create_new: the name taken on disk after open is not replaced.
    {
      auto [ec, w] = run_sync(lfs.open_write("/r", write_mode::create_new));
      REQUIRE_FALSE(ec);
      CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("mine")))));
      put_file(root / "r", "theirs");
      CHECK(run_sync(w.commit()) == storage_errc::already_exists);
    }
    CHECK(get_file(root / "r") == "theirs");
    REQUIRE_FALSE(write_file(lfs, "/s", "created", write_mode::create_new));
    CHECK(get_file(root / "s") == "created");
    // Nothing temporary left, on disk either.
    CHECK(names_in(lfs, "/") == std::set<std::string>{"p", "r", "s"});
    CHECK(std::distance(fs::directory_iterator(root), fs::directory_iterator()) == 3);

    // set_mode and set_modified, on files, directories and the root.
    const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1234567890)) +
                   std::chrono::milliseconds(250);
    REQUIRE_FALSE(run_sync(lfs.make_directory("/d")));
    CHECK_FALSE(run_sync(lfs.set_mode("/s", 0600)));
    CHECK((fs::status(root / "s").permissions() & fs::perms::mask) == fs::perms(0600));
    CHECK_FALSE(run_sync(lfs.set_mode("/d", 0711)));
    CHECK((fs::status(root / "d").permissions() & fs::perms::mask) == fs::perms(0711));
    CHECK_FALSE(run_sync(lfs.set_mode("/", 0750)));
    CHECK((fs::status(root).permissions() & fs::perms::mask) == fs::perms(0750));
    CHECK_FALSE(run_sync(lfs.set_modified("/s", t)));
    CHECK_FALSE(run_sync(lfs.set_modified("/d", t)));
    CHECK_FALSE(run_sync(lfs.set_modified("/", t)));
    for (const fs::path& p : {root / "s", root / "d", root}) {
      struct ::stat st {};
      REQUIRE(::stat(p.c_str(), &st) == 0);
      CHECK(st.st_mtim.tv_sec == 1234567890);
      CHECK(st.st_mtim.tv_nsec == 250000000);
    }
    CHECK(run_sync(lfs.set_mode("/missing", 0600)) == storage_errc::not_found);
    CHECK(run_sync(lfs.set_modified("/missing", t)) == storage_errc::not_found);
    REQUIRE(::mkfifo((root / "fifo").c_str(), 0644) == 0);
    CHECK(run_sync(lfs.stat("/fifo")).second.type == file_type::other);
    if (legacy) CHECK(run_sync(lfs.set_mode("/fifo", 0600)) == storage_errc::permission_denied);

    // unique is the host's device and inode numbers, in hex.
    struct ::stat st {};
    REQUIRE(::stat((root / "s").c_str(), &st) == 0);
    char expected[40];
    std::snprintf(expected, sizeof expected, "%llx.%llx", static_cast<unsigned long long>(st.st_dev),
                  static_cast<unsigned long long>(st.st_ino));
    CHECK(run_sync(lfs.stat("/s")).second.unique == expected);
  });
}

TEST_CASE("local_fs: special files and bad roots") {
  sandbox sb;
  REQUIRE(::mkfifo((sb.root / "fifo").c_str(), 0644) == 0);
  coftp::local_fs lfs(sb.root);
  // Neither hangs nor opens: a FIFO is not a file to serve.
  CHECK(read_all(lfs, "/fifo").first == storage_errc::permission_denied);
  CHECK(write_file(lfs, "/fifo", "x", write_mode::append) == storage_errc::permission_denied);
  CHECK(run_sync(lfs.stat("/fifo")).second.type == file_type::other);

  CHECK_THROWS_AS(coftp::local_fs(sb.tmp.path() / "no-such-root"), std::system_error);
  CHECK_THROWS_AS(coftp::local_fs(sb.tmp.path() / "outside.txt"), std::system_error);
  try {
    coftp::local_fs bad(sb.tmp.path() / "no-such-root");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()).find("no-such-root") == std::string::npos);  // no host paths
    CHECK(e.code() == storage_errc::not_found);
  }
  // Error messages never carry host paths.
  auto [ec, info] = run_sync(lfs.stat("/link_dir/secret.txt"));
  CHECK(ec.message().find(sb.tmp.path().string()) == std::string::npos);
}

}  // TEST_SUITE("storage")
