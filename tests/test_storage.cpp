// Storage contract: one suite run over every backend (memory_fs, local_fs in a fresh
// temporary directory), then local_fs's sandbox tests (symlinks leading out of the root).
#include <coftp/storage/local_fs.hpp>
#include <coftp/storage/memory_fs.hpp>

#include <doctest/doctest.h>

#include "run_sync.hpp"
#include "temp_dir.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>
#include <thread>
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

// --- helpers: whole-file read and write through the backend API ----------------------

template <class FS>
asio::awaitable<coftp::result<std::string>> read_all_co(FS fs, std::string path, std::uint64_t offset) {
  auto opened = co_await fs.open_read(path, offset);
  if (opened.first) co_return coftp::result<std::string>{opened.first, {}};
  auto r = std::move(opened.second);
  std::string out;
  std::vector<char> buf(10007);  // odd size: reads end at arbitrary places
  for (;;) {
    auto got = co_await r.read_some(asio::buffer(buf));
    if (got.first) co_return coftp::result<std::string>{got.first, out};
    if (got.second == 0) break;
    out.append(buf.data(), got.second);
  }
  co_return coftp::result<std::string>{{}, std::move(out)};
}

template <class FS>
coftp::result<std::string> read_all(FS& fs, std::string path, std::uint64_t offset = 0) {
  return run_sync(read_all_co(fs, std::move(path), offset));
}

template <class FS>
asio::awaitable<std::error_code> write_co(FS fs, std::string path, std::string data, write_mode mode,
                                          std::size_t chunk, std::uint64_t offset) {
  auto opened = co_await fs.open_write(path, mode, offset);
  if (opened.first) co_return opened.first;
  auto w = std::move(opened.second);
  for (std::size_t i = 0; i < data.size(); i += chunk) {
    auto ec = co_await w.write(asio::buffer(data.data() + i, std::min(chunk, data.size() - i)));
    if (ec) co_return ec;
  }
  auto ec = co_await w.commit();
  co_return ec;
}

template <class FS>
std::error_code write_file(FS& fs, std::string path, std::string data, write_mode mode = write_mode::replace,
                           std::size_t chunk = 65537) {
  return run_sync(write_co(fs, std::move(path), std::move(data), mode, chunk, 0));
}

// REST + STOR: replace `path` with its first `offset` bytes followed by `data`.
template <class FS>
std::error_code write_at(FS& fs, std::string path, std::uint64_t offset, std::string data,
                         write_mode mode = write_mode::replace) {
  return run_sync(write_co(fs, std::move(path), std::move(data), mode, 4099, offset));
}

template <class FS>
std::set<std::string> names_in(FS& fs, std::string path) {
  auto [ec, entries] = run_sync(fs.list(std::move(path)));
  REQUIRE_FALSE(ec);
  std::set<std::string> names;
  for (auto& e : entries) names.insert(e.name);
  return names;
}

const coftp::file_info* find_entry(const std::vector<coftp::file_info>& entries, std::string_view name) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.name == name; });
  return it == entries.end() ? nullptr : &*it;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

}  // namespace

TYPE_TO_STRING(memory_fs_fixture);
TYPE_TO_STRING(local_fs_fixture);

// --- the contract ----------------------------------------------------------------------

TEST_CASE_TEMPLATE("storage: stat of the root and of missing paths", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  auto [ec, root] = run_sync(f.fs.stat("/"));
  REQUIRE_FALSE(ec);
  CHECK(root.type == file_type::directory);
  CHECK(root.name == "");

  auto missing = run_sync(f.fs.stat("/nope"));
  CAPTURE(missing.first.message());
  CHECK(missing.first == storage_errc::not_found);
  CHECK(run_sync(f.fs.stat("/nope/deeper")).first == storage_errc::not_found);

  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  CHECK(run_sync(f.fs.stat("/file/below")).first == storage_errc::not_a_directory);
}

TEST_CASE_TEMPLATE("storage: write, commit, read back byte for byte", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  const std::string big = random_bytes(1 << 20, 42);
  const std::vector<std::string> contents = {
      "", "A", std::string(8191, 'a'), std::string(8192, 'b'), std::string(8193, 'c'), big};
  for (std::size_t i = 0; i < contents.size(); ++i) {
    const std::string& data = contents[i];
    CAPTURE(data.size());
    const std::string path = "/f" + std::to_string(i);
    REQUIRE_FALSE(write_file(f.fs, path, data));
    auto [ec, got] = read_all(f.fs, path);
    REQUIRE_FALSE(ec);
    CHECK(got.size() == data.size());
    CHECK(got == data);

    auto [sec, info] = run_sync(f.fs.stat(path));
    REQUIRE_FALSE(sec);
    CHECK(info.type == file_type::regular);
    CHECK(info.size == data.size());
    CHECK(info.name == path.substr(1));
    CHECK((info.mode & 0700) == 0600);
    CHECK(info.mtime.time_since_epoch().count() > 0);

    auto [oec, reader] = run_sync(f.fs.open_read(path, 0));
    REQUIRE_FALSE(oec);
    CHECK(reader.size() == data.size());
  }
  // Written in one piece rather than in chunks.
  REQUIRE_FALSE(write_file(f.fs, "/one", big, write_mode::replace, big.size()));
  CHECK(read_all(f.fs, "/one").second == big);
  // Replacing with shorter content leaves no tail of the old one.
  REQUIRE_FALSE(write_file(f.fs, "/one", "short"));
  CHECK(read_all(f.fs, "/one").second == "short");
}

TEST_CASE_TEMPLATE("storage: read from an offset", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/h.txt", "hello world"));
  CHECK(read_all(f.fs, "/h.txt", 6).second == "world");
  CHECK(read_all(f.fs, "/h.txt", 0).second == "hello world");
  auto at_end = read_all(f.fs, "/h.txt", 11);
  CHECK_FALSE(at_end.first);
  CHECK(at_end.second == "");
  auto past_end = read_all(f.fs, "/h.txt", 1000);
  CHECK_FALSE(past_end.first);
  CHECK(past_end.second == "");

  const std::string big = random_bytes(300000, 7);
  REQUIRE_FALSE(write_file(f.fs, "/big", big));
  CHECK(read_all(f.fs, "/big", 123457).second == big.substr(123457));

  auto [ec, r] = run_sync(f.fs.open_read("/h.txt", 6));
  REQUIRE_FALSE(ec);
  CHECK(r.size() == 11);  // the whole file, whatever the offset
  char c[3];
  auto got = run_sync(r.read_some(asio::buffer(c)));
  CHECK_FALSE(got.first);
  CHECK(got.second == 3);
  CHECK(std::string(c, 3) == "wor");
}

TEST_CASE_TEMPLATE("storage: open_read errors", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  CHECK(run_sync(f.fs.open_read("/d", 0)).first == storage_errc::is_a_directory);
  CHECK(run_sync(f.fs.open_read("/", 0)).first == storage_errc::is_a_directory);
  CHECK(run_sync(f.fs.open_read("/missing", 0)).first == storage_errc::not_found);
  CHECK(run_sync(f.fs.open_read("/d/missing", 0)).first == storage_errc::not_found);
}

TEST_CASE_TEMPLATE("storage: a reader keeps the content it opened", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/a", "first version"));
  auto [ec, r] = run_sync(f.fs.open_read("/a", 0));
  REQUIRE_FALSE(ec);
  REQUIRE_FALSE(write_file(f.fs, "/a", "second"));
  char buf[64];
  auto got = run_sync(r.read_some(asio::buffer(buf)));
  REQUIRE_FALSE(got.first);
  CHECK(std::string(buf, got.second) == "first version");
  CHECK(read_all(f.fs, "/a").second == "second");
}

TEST_CASE_TEMPLATE("storage: a writer destroyed without commit leaves no trace", S, memory_fs_fixture,
                   local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/a.txt", "old content"));
  {
    auto [ec, w] = run_sync(f.fs.open_write("/a.txt", write_mode::replace));
    REQUIRE_FALSE(ec);
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("new content, longer than before")))));
    CHECK(read_all(f.fs, "/a.txt").second == "old content");  // nothing visible before commit
    auto moved = std::move(w);                                  // a moved-from writer is inert too
    CHECK_FALSE(run_sync(moved.write(asio::buffer(std::string_view("more")))));
  }
  {
    auto [ec, w] = run_sync(f.fs.open_write("/new.txt", write_mode::replace));
    REQUIRE_FALSE(ec);
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("never committed")))));
  }
  CHECK(read_all(f.fs, "/a.txt").second == "old content");
  CHECK(run_sync(f.fs.stat("/new.txt")).first == storage_errc::not_found);
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"a.txt"});

  // A committed writer cannot be committed or written again.
  auto [ec, w] = run_sync(f.fs.open_write("/a.txt", write_mode::replace));
  REQUIRE_FALSE(ec);
  CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("v2")))));
  CHECK_FALSE(run_sync(w.commit()));
  CHECK(run_sync(w.write(asio::buffer(std::string_view("v3")))));
  CHECK(run_sync(w.commit()));
  CHECK(read_all(f.fs, "/a.txt").second == "v2");
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"a.txt"});

  coftp::local_fs::writer idle_local;  // default-constructed writers fail cleanly
  coftp::memory_fs::writer idle_memory;
  CHECK(run_sync(idle_local.commit()));
  CHECK(run_sync(idle_memory.commit()));
}

TEST_CASE_TEMPLATE("storage: open_write errors", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  for (auto mode : {write_mode::replace, write_mode::append}) {
    CAPTURE(static_cast<int>(mode));
    CHECK(write_file(f.fs, "/missing/a.txt", "x", mode) == storage_errc::not_found);
    CHECK(write_file(f.fs, "/d/missing/a.txt", "x", mode) == storage_errc::not_found);
    CHECK(write_file(f.fs, "/file/a.txt", "x", mode) == storage_errc::not_a_directory);
    CHECK(write_file(f.fs, "/d", "x", mode) == storage_errc::is_a_directory);
    CHECK(write_file(f.fs, "/", "x", mode) == storage_errc::is_a_directory);
  }
  CHECK(run_sync(f.fs.stat("/missing")).first == storage_errc::not_found);  // parents never created
  CHECK(names_in(f.fs, "/d").empty());
  CHECK(read_all(f.fs, "/file").second == "x");
}

TEST_CASE_TEMPLATE("storage: append creates and appends", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/log", "ab", write_mode::append));
  CHECK(read_all(f.fs, "/log").second == "ab");
  REQUIRE_FALSE(write_file(f.fs, "/log", "cd", write_mode::append));
  CHECK(read_all(f.fs, "/log").second == "abcd");
  const std::string big = random_bytes(200000, 3);
  REQUIRE_FALSE(write_file(f.fs, "/log", big, write_mode::append, 4096));
  CHECK(read_all(f.fs, "/log").second == "abcd" + big);
  REQUIRE_FALSE(write_file(f.fs, "/log", "new", write_mode::replace));
  REQUIRE_FALSE(write_file(f.fs, "/log", "!", write_mode::append));
  CHECK(read_all(f.fs, "/log").second == "new!");
  CHECK(run_sync(f.fs.stat("/log")).second.size == 4);
}

TEST_CASE_TEMPLATE("storage: list", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/d/a.txt", "abc"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/sub")));
  REQUIRE_FALSE(write_file(f.fs, "/d/sub/deep.txt", "deep"));
  REQUIRE_FALSE(write_file(f.fs, "/d.txt", "sibling sorting between /d and /d/"));
  REQUIRE_FALSE(write_file(f.fs, "/d/empty", ""));

  auto [ec, entries] = run_sync(f.fs.list("/d"));
  REQUIRE_FALSE(ec);
  CHECK(entries.size() == 3);
  auto a = find_entry(entries, "a.txt");
  REQUIRE(a != nullptr);
  CHECK(a->type == file_type::regular);
  CHECK(a->size == 3);
  auto sub = find_entry(entries, "sub");
  REQUIRE(sub != nullptr);
  CHECK(sub->type == file_type::directory);
  auto empty = find_entry(entries, "empty");
  REQUIRE(empty != nullptr);
  CHECK(empty->size == 0);

  CHECK(names_in(f.fs, "/") == std::set<std::string>{"d", "d.txt"});
  CHECK(names_in(f.fs, "/d/sub") == std::set<std::string>{"deep.txt"});
  CHECK(run_sync(f.fs.list("/d/a.txt")).first == storage_errc::not_a_directory);
  CHECK(run_sync(f.fs.list("/missing")).first == storage_errc::not_found);
  CHECK(run_sync(f.fs.list("/d/a.txt/x")).first == storage_errc::not_a_directory);
}

TEST_CASE_TEMPLATE("storage: make_directory", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  CHECK_FALSE(run_sync(f.fs.make_directory("/d")));
  auto [ec, info] = run_sync(f.fs.stat("/d"));
  REQUIRE_FALSE(ec);
  CHECK(info.type == file_type::directory);
  CHECK(info.is_directory());
  CHECK(run_sync(f.fs.make_directory("/d")) == storage_errc::already_exists);
  CHECK(run_sync(f.fs.make_directory("/")) == storage_errc::already_exists);
  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  CHECK(run_sync(f.fs.make_directory("/file")) == storage_errc::already_exists);
  CHECK(run_sync(f.fs.make_directory("/missing/d")) == storage_errc::not_found);
  CHECK(run_sync(f.fs.make_directory("/file/d")) == storage_errc::not_a_directory);
  CHECK_FALSE(run_sync(f.fs.make_directory("/d/e")));
  CHECK(names_in(f.fs, "/d") == std::set<std::string>{"e"});
}

TEST_CASE_TEMPLATE("storage: remove_directory", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/d/x", "x"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/e")));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/e/sub")));
  CHECK(run_sync(f.fs.remove_directory("/d")) == storage_errc::not_empty);
  CHECK(run_sync(f.fs.remove_directory("/e")) == storage_errc::not_empty);
  CHECK(run_sync(f.fs.remove_directory("/d/x")) == storage_errc::not_a_directory);
  CHECK(run_sync(f.fs.remove_directory("/missing")) == storage_errc::not_found);
  CHECK(run_sync(f.fs.remove_directory("/")));
  CHECK(read_all(f.fs, "/d/x").second == "x");
  CHECK_FALSE(run_sync(f.fs.remove_directory("/e/sub")));
  CHECK_FALSE(run_sync(f.fs.remove_directory("/e")));
  CHECK(run_sync(f.fs.stat("/e")).first == storage_errc::not_found);
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"d"});
}

TEST_CASE_TEMPLATE("storage: remove_file", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/d/x", "x"));
  CHECK(run_sync(f.fs.remove_file("/d")) == storage_errc::is_a_directory);
  CHECK(run_sync(f.fs.remove_file("/")) == storage_errc::is_a_directory);
  CHECK(run_sync(f.fs.remove_file("/missing")) == storage_errc::not_found);
  CHECK(run_sync(f.fs.remove_file("/missing/x")) == storage_errc::not_found);
  CHECK(run_sync(f.fs.remove_file("/d/x/y")) == storage_errc::not_a_directory);
  CHECK_FALSE(run_sync(f.fs.remove_file("/d/x")));
  CHECK(run_sync(f.fs.stat("/d/x")).first == storage_errc::not_found);
  CHECK(run_sync(f.fs.remove_file("/d/x")) == storage_errc::not_found);
  CHECK(names_in(f.fs, "/d").empty());
}

TEST_CASE_TEMPLATE("storage: rename", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/a.txt", "A"));
  REQUIRE_FALSE(write_file(f.fs, "/b.txt", "B"));

  SUBCASE("a file") {
    CHECK_FALSE(run_sync(f.fs.rename("/a.txt", "/c.txt")));
    CHECK(run_sync(f.fs.stat("/a.txt")).first == storage_errc::not_found);
    CHECK(read_all(f.fs, "/c.txt").second == "A");
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"b.txt", "c.txt"});
  }
  SUBCASE("a file into another directory") {
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
    CHECK_FALSE(run_sync(f.fs.rename("/a.txt", "/d/a.txt")));
    CHECK(read_all(f.fs, "/d/a.txt").second == "A");
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"b.txt", "d"});
  }
  SUBCASE("a directory with its contents") {
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/sub")));
    REQUIRE_FALSE(write_file(f.fs, "/d/sub/deep.txt", "deep"));
    REQUIRE_FALSE(write_file(f.fs, "/d/top.txt", "top"));
    REQUIRE_FALSE(write_file(f.fs, "/d.txt", "sibling"));
    CHECK_FALSE(run_sync(f.fs.rename("/d", "/e")));
    CHECK(run_sync(f.fs.stat("/d")).first == storage_errc::not_found);
    CHECK(run_sync(f.fs.stat("/d/sub/deep.txt")).first == storage_errc::not_found);
    CHECK(read_all(f.fs, "/e/sub/deep.txt").second == "deep");
    CHECK(read_all(f.fs, "/e/top.txt").second == "top");
    CHECK(read_all(f.fs, "/d.txt").second == "sibling");
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"a.txt", "b.txt", "d.txt", "e"});
    CHECK(names_in(f.fs, "/e") == std::set<std::string>{"sub", "top.txt"});
    // ...and deeper.
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/f")));
    CHECK_FALSE(run_sync(f.fs.rename("/e", "/f/g")));
    CHECK(read_all(f.fs, "/f/g/sub/deep.txt").second == "deep");
  }
  SUBCASE("onto an existing entry") {
    CHECK(run_sync(f.fs.rename("/a.txt", "/b.txt")) == storage_errc::already_exists);
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
    CHECK(run_sync(f.fs.rename("/a.txt", "/d")) == storage_errc::already_exists);
    CHECK(run_sync(f.fs.rename("/d", "/a.txt")) == storage_errc::already_exists);
    CHECK(run_sync(f.fs.rename("/a.txt", "/a.txt")) == storage_errc::already_exists);
    CHECK(run_sync(f.fs.rename("/a.txt", "/")) == storage_errc::already_exists);
    CHECK(read_all(f.fs, "/a.txt").second == "A");
    CHECK(read_all(f.fs, "/b.txt").second == "B");
  }
  SUBCASE("missing source or target parent") {
    CHECK(run_sync(f.fs.rename("/missing", "/x")) == storage_errc::not_found);
    CHECK(run_sync(f.fs.rename("/missing/a", "/x")) == storage_errc::not_found);
    CHECK(run_sync(f.fs.rename("/a.txt", "/missing/a.txt")) == storage_errc::not_found);
    CHECK(run_sync(f.fs.rename("/a.txt", "/b.txt/a.txt")) == storage_errc::not_a_directory);
    CHECK(run_sync(f.fs.rename("/", "/x")) == storage_errc::permission_denied);
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"a.txt", "b.txt"});
  }
  SUBCASE("a directory into its own subtree") {
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/sub")));
    for (const char* to : {"/d/x", "/d/sub/x"}) {
      CAPTURE(to);
      auto ec = run_sync(f.fs.rename("/d", to));
      CHECK((ec == storage_errc::invalid_name || ec == storage_errc::permission_denied));
    }
    CHECK(names_in(f.fs, "/d") == std::set<std::string>{"sub"});
  }
}

TEST_CASE_TEMPLATE("storage: names with spaces, quotes and UTF-8", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  const std::string dir = "/dir with  spaces";
  const std::string name = "it's \"quoted\" \xC3\xBCn\xC3\xAF\x63\xC3\xB8\x64\xC3\xA9 \xE6\x96\x87\xE4\xBB\xB6.txt";
  const std::string renamed = "\xE2\x98\x83 'snow' man";
  REQUIRE_FALSE(run_sync(f.fs.make_directory(dir)));
  REQUIRE_FALSE(write_file(f.fs, dir + "/" + name, "payload"));
  CHECK(read_all(f.fs, dir + "/" + name).second == "payload");
  CHECK(names_in(f.fs, dir) == std::set<std::string>{name});
  CHECK(run_sync(f.fs.stat(dir + "/" + name)).second.name == name);
  CHECK_FALSE(run_sync(f.fs.rename(dir + "/" + name, dir + "/" + renamed)));
  CHECK(read_all(f.fs, dir + "/" + renamed).second == "payload");
  CHECK(names_in(f.fs, dir) == std::set<std::string>{renamed});
  CHECK_FALSE(run_sync(f.fs.remove_file(dir + "/" + renamed)));
  CHECK_FALSE(run_sync(f.fs.remove_directory(dir)));
}

TEST_CASE_TEMPLATE("storage: a replacing upload from a restart offset", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/a", "hello world"));
  CHECK_FALSE(write_at(f.fs, "/a", 6, "there"));
  CHECK(read_all(f.fs, "/a").second == "hello there");
  CHECK_FALSE(write_at(f.fs, "/a", 11, "!"));  // exactly at the end
  CHECK(read_all(f.fs, "/a").second == "hello there!");
  CHECK_FALSE(write_at(f.fs, "/a", 5, ""));  // truncates to the kept part
  CHECK(read_all(f.fs, "/a").second == "hello");
  CHECK_FALSE(write_at(f.fs, "/a", 0, "new"));  // 0: an ordinary replace
  CHECK(read_all(f.fs, "/a").second == "new");
  CHECK(run_sync(f.fs.stat("/a")).second.size == 3);

  const std::string big = random_bytes(300000, 11);
  const std::string tail = random_bytes(70000, 12);
  REQUIRE_FALSE(write_file(f.fs, "/big", big));
  CHECK_FALSE(write_at(f.fs, "/big", 123457, tail));
  auto got = read_all(f.fs, "/big").second;
  CHECK(got.size() == 123457 + tail.size());
  CHECK(got == big.substr(0, 123457) + tail);
  // A kept part longer than what is rewritten: the old tail is gone.
  CHECK_FALSE(write_at(f.fs, "/big", 150000, "x"));
  CHECK(read_all(f.fs, "/big").second == big.substr(0, 123457) + tail.substr(0, 150000 - 123457) + "x");
}

TEST_CASE_TEMPLATE("storage: a restarted upload is atomic and checks its offset", S, memory_fs_fixture,
                   local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/a", "0123456789"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  {
    auto [ec, w] = run_sync(f.fs.open_write("/a", write_mode::replace, 4));
    REQUIRE_FALSE(ec);
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("abc")))));
    CHECK(read_all(f.fs, "/a").second == "0123456789");  // nothing visible before commit
  }
  CHECK(read_all(f.fs, "/a").second == "0123456789");  // abandoned: untouched
  {
    auto [ec, w] = run_sync(f.fs.open_write("/a", write_mode::replace, 4));
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(write_file(f.fs, "/a", "ZZZZZZZZZZZZ"));  // replaced after open: the kept part is from open
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("abc")))));
    CHECK_FALSE(run_sync(w.commit()));
    CHECK(read_all(f.fs, "/a").second == "0123abc");
  }
  REQUIRE_FALSE(write_file(f.fs, "/a", "0123456789"));
  CHECK(write_at(f.fs, "/a", 11, "x") == storage_errc::invalid_offset);
  CHECK(write_at(f.fs, "/a", 1u << 30, "x") == storage_errc::invalid_offset);
  CHECK(write_at(f.fs, "/a", ~std::uint64_t{0}, "x") == storage_errc::invalid_offset);
  CHECK(write_at(f.fs, "/missing", 1, "x") == storage_errc::invalid_offset);
  CHECK(write_at(f.fs, "/a", 3, "x", write_mode::append) == storage_errc::invalid_offset);
  CHECK(write_at(f.fs, "/new", 3, "x", write_mode::create_new) == storage_errc::invalid_offset);
  CHECK(write_at(f.fs, "/missing/a", 1, "x") == storage_errc::not_found);
  CHECK(write_at(f.fs, "/d", 1, "x") == storage_errc::is_a_directory);
  CHECK(read_all(f.fs, "/a").second == "0123456789");
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"a", "d"});
  // Offset 0 is fine in every mode, on missing files too.
  CHECK_FALSE(write_at(f.fs, "/a", 0, "+", write_mode::append));
  CHECK_FALSE(write_at(f.fs, "/new", 0, "n", write_mode::create_new));
  CHECK_FALSE(write_at(f.fs, "/new2", 0, "m"));
  CHECK(read_all(f.fs, "/a").second == "0123456789+");
  CHECK(read_all(f.fs, "/new").second == "n");
  CHECK(read_all(f.fs, "/new2").second == "m");
}

TEST_CASE_TEMPLATE("storage: create_new never replaces", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/taken", "old"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));

  CHECK_FALSE(write_file(f.fs, "/fresh", "fresh data", write_mode::create_new));
  CHECK(read_all(f.fs, "/fresh").second == "fresh data");
  auto [sec, info] = run_sync(f.fs.stat("/fresh"));
  REQUIRE_FALSE(sec);
  CHECK(info.type == file_type::regular);
  CHECK(info.size == 10);

  CHECK(write_file(f.fs, "/taken", "new", write_mode::create_new) == storage_errc::already_exists);
  CHECK(write_file(f.fs, "/fresh", "again", write_mode::create_new) == storage_errc::already_exists);
  CHECK(write_file(f.fs, "/d", "x", write_mode::create_new) == storage_errc::already_exists);
  CHECK(write_file(f.fs, "/", "x", write_mode::create_new) == storage_errc::already_exists);
  CHECK(write_file(f.fs, "/missing/x", "x", write_mode::create_new) == storage_errc::not_found);
  CHECK(write_file(f.fs, "/taken/x", "x", write_mode::create_new) == storage_errc::not_a_directory);
  CHECK(read_all(f.fs, "/taken").second == "old");
  CHECK(read_all(f.fs, "/fresh").second == "fresh data");

  SUBCASE("the name is taken between open and commit") {
    auto [ec, w] = run_sync(f.fs.open_write("/race", write_mode::create_new));
    REQUIRE_FALSE(ec);
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("mine")))));
    CHECK(run_sync(f.fs.stat("/race")).first == storage_errc::not_found);  // not visible yet
    REQUIRE_FALSE(write_file(f.fs, "/race", "theirs"));
    CHECK(run_sync(w.commit()) == storage_errc::already_exists);
    CHECK(read_all(f.fs, "/race").second == "theirs");
  }
  SUBCASE("a directory appears meanwhile") {
    auto [ec, w] = run_sync(f.fs.open_write("/race", write_mode::create_new));
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/race")));
    auto cec = run_sync(w.commit());
    CHECK((cec == storage_errc::already_exists || cec == storage_errc::is_a_directory));
    CHECK(run_sync(f.fs.stat("/race")).second.type == file_type::directory);
  }
  SUBCASE("abandoned before commit") {
    {
      auto [ec, w] = run_sync(f.fs.open_write("/gone", write_mode::create_new));
      REQUIRE_FALSE(ec);
      CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("never")))));
    }
    CHECK(run_sync(f.fs.stat("/gone")).first == storage_errc::not_found);
  }
  // No temporary entries left behind, whatever happened.
  auto names = names_in(f.fs, "/");
  names.erase("race");
  CHECK(names == std::set<std::string>{"d", "fresh", "taken"});
}

TEST_CASE_TEMPLATE("storage: unique ids are stable and distinct", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/d/a", "a"));
  REQUIRE_FALSE(write_file(f.fs, "/d/b", "b"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/sub")));
  REQUIRE_FALSE(write_file(f.fs, "/d/sub/c", "c"));

  auto unique_of = [&](const std::string& p) {
    auto [ec, info] = run_sync(f.fs.stat(p));
    REQUIRE_FALSE(ec);
    return info.unique;
  };
  const std::string root = unique_of("/"), d = unique_of("/d"), a = unique_of("/d/a"), b = unique_of("/d/b"),
                    sub = unique_of("/d/sub"), c = unique_of("/d/sub/c");
  const std::set<std::string> all{root, d, a, b, sub, c};
  CHECK(all.size() == 6);
  CHECK(all.count("") == 0);
  CHECK(unique_of("/d/a") == a);  // stable

  auto [ec, entries] = run_sync(f.fs.list("/d"));
  REQUIRE_FALSE(ec);
  REQUIRE(entries.size() == 3);
  CHECK(find_entry(entries, "a")->unique == a);
  CHECK(find_entry(entries, "b")->unique == b);
  CHECK(find_entry(entries, "sub")->unique == sub);

  // A rename keeps it, for files and whole directories; so does an append.
  REQUIRE_FALSE(run_sync(f.fs.rename("/d/a", "/moved")));
  CHECK(unique_of("/moved") == a);
  REQUIRE_FALSE(run_sync(f.fs.rename("/d/sub", "/sub2")));
  CHECK(unique_of("/sub2") == sub);
  CHECK(unique_of("/sub2/c") == c);
  REQUIRE_FALSE(write_file(f.fs, "/moved", "+", write_mode::append));
  CHECK(unique_of("/moved") == a);
  CHECK(unique_of("/d/b") == b);
  // A new entry does not take the id of a removed one still referred to.
  REQUIRE_FALSE(write_file(f.fs, "/d/new", "n"));
  CHECK(all.count(unique_of("/d/new")) == 0);
}

TEST_CASE_TEMPLATE("storage: set_modified and set_mode", S, memory_fs_fixture, local_fs_fixture) {
  S f;
  REQUIRE_FALSE(write_file(f.fs, "/a", "a"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  using std::chrono::system_clock;
  using std::chrono::seconds;
  const auto t = system_clock::time_point(seconds(981173106));  // 2001-02-03 04:05:06 UTC
  if constexpr (coftp::can_set_modified<decltype(f.fs)>) {
    CHECK_FALSE(run_sync(f.fs.set_modified("/a", t)));
    CHECK(std::chrono::floor<seconds>(run_sync(f.fs.stat("/a")).second.mtime) == t);
    CHECK_FALSE(run_sync(f.fs.set_modified("/d", t + seconds(1))));
    auto [ec, entries] = run_sync(f.fs.list("/"));
    REQUIRE_FALSE(ec);
    CHECK(std::chrono::floor<seconds>(find_entry(entries, "a")->mtime) == t);
    CHECK(std::chrono::floor<seconds>(find_entry(entries, "d")->mtime) == t + seconds(1));
    CHECK(read_all(f.fs, "/a").second == "a");
    CHECK(run_sync(f.fs.set_modified("/missing", t)) == storage_errc::not_found);
    CHECK(run_sync(f.fs.set_modified("/missing/x", t)) == storage_errc::not_found);
    CHECK(run_sync(f.fs.set_modified("/a/x", t)) == storage_errc::not_a_directory);
  }
  if constexpr (coftp::can_set_mode<decltype(f.fs)>) {
    CHECK_FALSE(run_sync(f.fs.set_mode("/a", 0640)));
    CHECK(run_sync(f.fs.stat("/a")).second.mode == 0640);
    CHECK_FALSE(run_sync(f.fs.set_mode("/d", 0750)));
    CHECK(run_sync(f.fs.stat("/d")).second.mode == 0750);
    CHECK_FALSE(run_sync(f.fs.set_mode("/a", 0100604)));  // only the permission bits count
    auto [ec, entries] = run_sync(f.fs.list("/"));
    REQUIRE_FALSE(ec);
    CHECK(find_entry(entries, "a")->mode == 0604);
    CHECK(find_entry(entries, "d")->mode == 0750);
    // A replacing upload keeps the mode; contents are untouched by a mode change.
    REQUIRE_FALSE(write_file(f.fs, "/a", "v2"));
    CHECK(run_sync(f.fs.stat("/a")).second.mode == 0604);
    CHECK(read_all(f.fs, "/a").second == "v2");
    CHECK(run_sync(f.fs.set_mode("/missing", 0600)) == storage_errc::not_found);
    CHECK(run_sync(f.fs.set_mode("/a/x", 0600)) == storage_errc::not_a_directory);
  }
}

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
        if (run_sync(copy.list("/")).first) ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(failures.load() == 0);
  CHECK(read_all(f.fs, "/shared.log").second == std::string(threads * files, 'x'));
  for (int t = 0; t < threads; ++t) CHECK(names_in(f.fs, "/t" + std::to_string(t)).size() == files);
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
      CHECK(run_sync(lfs.list(dir)).first == storage_errc::permission_denied);
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
      CHECK(run_sync(lfs.list(file)).first == storage_errc::permission_denied);
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
    CHECK(run_sync(lfs.list("/..")).first);
    CHECK(run_sync(lfs.stat("relative")).first);
    CHECK(run_sync(lfs.stat("/root2")).first == storage_errc::not_found);

    // The listing shows escaping links as symlinks with lstat data.
    auto [ec, entries] = run_sync(lfs.list("/"));
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
  CHECK(run_sync(lfs.list("/in/moved_link")).first == storage_errc::permission_denied);  // still leads out
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

  auto [lec, entries] = run_sync(lfs.list("/"));
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
  CHECK(run_sync(lfs.list("/link_in")).first == storage_errc::permission_denied);
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
  CHECK(run_sync(lfs.list("/w/v/f.txt")).first == storage_errc::not_a_directory);
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
      if (named) CHECK(names_in(lfs, "/").size() == 3);  // the hidden file exists meanwhile
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

TEST_CASE("local_fs: restarted uploads, create_new, set_mode and set_modified on every code path") {
  for (auto [named, legacy] : {std::pair(false, false), std::pair(true, false), std::pair(false, true),
                               std::pair(true, true)}) {
    CAPTURE(named);
    CAPTURE(legacy);
    temp_dir tmp;
    const fs::path root = make_dir(tmp.path() / "root");
    coftp::local_fs lfs(root);
    lfs.force_fallbacks({.walk_paths = false, .named_temp_files = named, .legacy_syscalls = legacy});

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
  }
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
