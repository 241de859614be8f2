// coftp/testing/backend_suite.hpp - the storage contract (storage.hpp) as a doctest
// suite, to run over any backend: coftp's own and yours.
//
// Opt-in: this header includes <doctest/doctest.h> and registers test cases, so it is
// not part of the coftp.hpp umbrella; include it in one of your test files:
//
//   #include <coftp/testing/backend_suite.hpp>
//   struct my_fixture { my_backend fs; };       // default-constructible; `fs` fresh and empty
//   COFTP_BACKEND_CONFORMANCE(my_fixture);      // or several: (fixture_a, fixture_b)
//
// Each test case gets a new fixture: `fs` must start as an empty tree (only "/"), and
// copies of it must share that tree (the suite passes the backend to coroutines by value,
// as a server shares one backend among sessions). The cases run on one thread.
//
// What is checked: stat, list, reads (from offsets too), writes (replace, append,
// create_new, REST offsets), that nothing is visible before commit and an abandoned
// upload leaves no trace (an abandoned append: the old content byte for byte), that a reader keeps reading what it opened when the file is
// replaced meanwhile, make/remove directory, remove file, rename of files and whole
// directories, names with spaces, quotes and UTF-8, unique ids (when the backend gives
// any: stable, distinct, kept by rename), and that each failure is reported as the right
// storage_errc. Optional capabilities (can_set_modified, can_set_mode,
// can_enter_directory) are checked only when the backend models them. Backends without permission bits may
// report mode 0.
//
// The test cases belong to the doctest test suite "storage conformance" and are named
// "conformance: ..."; run them alone with `-ts='storage conformance'`.
#pragma once

#include <coftp/error.hpp>
#include <coftp/storage.hpp>
#include <coftp/testing/run_sync.hpp>

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace coftp::testing {

namespace detail {

template <class FS>
asio::awaitable<result<std::string>> read_all_co(FS fs, std::string path, std::uint64_t offset) {
  auto opened = co_await fs.open_read(path, offset);
  if (opened.first) co_return result<std::string>{opened.first, {}};
  auto r = std::move(opened.second);
  std::string out;
  std::vector<char> buf(10007);  // odd size: reads end at arbitrary places
  for (;;) {
    auto got = co_await r.read_some(asio::buffer(buf));
    if (got.first) co_return result<std::string>{got.first, out};
    if (got.second == 0) break;
    out.append(buf.data(), got.second);
  }
  co_return result<std::string>{{}, std::move(out)};
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

}  // namespace detail

/// The whole content of `path` from `offset`, read through `fs.open_read`.
template <class FS>
result<std::string> read_all(FS& fs, std::string path, std::uint64_t offset = 0) {
  return run_sync(detail::read_all_co(fs, std::move(path), offset));
}

/// Writes `data` to `path` through `fs.open_write` in `chunk`-sized writes and commits.
template <class FS>
std::error_code write_file(FS& fs, std::string path, std::string data, write_mode mode = write_mode::replace,
                           std::size_t chunk = 65537) {
  return run_sync(detail::write_co(fs, std::move(path), std::move(data), mode, chunk, 0));
}

/// REST + STOR: replaces `path` with its first `offset` bytes followed by `data`.
template <class FS>
std::error_code write_at(FS& fs, std::string path, std::uint64_t offset, std::string data,
                         write_mode mode = write_mode::replace) {
  return run_sync(detail::write_co(fs, std::move(path), std::move(data), mode, 4099, offset));
}

/// The names listed in the directory `path` (the listing must succeed).
template <class FS>
std::set<std::string> names_in(FS& fs, std::string path) {
  auto [ec, entries] = run_sync(coftp::list_all(fs, std::move(path)));
  REQUIRE_FALSE(ec);
  std::set<std::string> names;
  for (auto& e : entries) names.insert(e.name);
  return names;
}

/// The entry called `name` in `entries`, or nullptr.
inline const file_info* find_entry(const std::vector<file_info>& entries, std::string_view name) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](auto& e) { return e.name == name; });
  return it == entries.end() ? nullptr : &*it;
}

/// `n` pseudo-random bytes, the same for the same seed.
inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

/// The backend type of a conformance fixture (the type of its member `fs`).
template <class Fixture>
using backend_of = std::remove_cvref_t<decltype(std::declval<Fixture&>().fs)>;

}  // namespace coftp::testing

// ---------------------------------------------------------------------------------------
// The test cases: one function template per case, over the fixture type F (f.fs is the
// backend), inside coftp::testing so that the helpers above are found before any
// function of the same name in the user's own tests.

namespace coftp::testing::conformance {

/// Conformance: stat of the root and of missing paths.
template <class F>
void stat_case() {
  using coftp::storage_errc;
  F f;
  auto [ec, root] = run_sync(f.fs.stat("/"));
  REQUIRE_FALSE(ec);
  CHECK(root.type == coftp::file_type::directory);
  CHECK(root.name == "");

  auto missing = run_sync(f.fs.stat("/nope"));
  CAPTURE(missing.first.message());
  CHECK(missing.first == storage_errc::not_found);
  CHECK(run_sync(f.fs.stat("/nope/deeper")).first == storage_errc::not_found);

  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  CHECK(run_sync(f.fs.stat("/file/below")).first == storage_errc::not_a_directory);
}

/// Conformance: write, commit, read back byte for byte.
template <class F>
void write_case() {
  using coftp::file_type;
  F f;
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
    CHECK(info.is_regular());
    CHECK(info.size == data.size());
    CHECK(info.name == path.substr(1));
    CHECK((info.mode == 0 || (info.mode & 0700) == 0600));  // 0: no permission bits at all
    CHECK(info.mtime.time_since_epoch().count() > 0);

    auto [oec, reader] = run_sync(f.fs.open_read(path, 0));
    REQUIRE_FALSE(oec);
    CHECK(reader.size() == data.size());
  }
  // Written in one piece rather than in chunks.
  REQUIRE_FALSE(write_file(f.fs, "/one", big, coftp::write_mode::replace, big.size()));
  CHECK(read_all(f.fs, "/one").second == big);
  // Replacing with shorter content leaves no tail of the old one.
  REQUIRE_FALSE(write_file(f.fs, "/one", "short"));
  CHECK(read_all(f.fs, "/one").second == "short");
  CHECK(run_sync(f.fs.stat("/one")).second.size == 5);
}

/// Conformance: read from an offset.
template <class F>
void read_offset_case() {
  F f;
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

/// Conformance: open_read errors.
template <class F>
void open_read_errors_case() {
  using coftp::storage_errc;
  F f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  CHECK(run_sync(f.fs.open_read("/d", 0)).first == storage_errc::is_a_directory);
  CHECK(run_sync(f.fs.open_read("/", 0)).first == storage_errc::is_a_directory);
  CHECK(run_sync(f.fs.open_read("/missing", 0)).first == storage_errc::not_found);
  CHECK(run_sync(f.fs.open_read("/d/missing", 0)).first == storage_errc::not_found);
  CHECK(run_sync(f.fs.open_read("/file/x", 0)).first == storage_errc::not_a_directory);
}

/// Conformance: a reader keeps the content it opened.
template <class F>
void reader_snapshot_case() {
  F f;
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

/// Conformance: a writer destroyed without commit leaves no trace.
template <class F>
void abandon_case() {
  using coftp::storage_errc;
  using coftp::write_mode;
  F f;
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

  // A default-constructed writer fails cleanly.
  typename coftp::testing::backend_of<F>::writer idle;
  CHECK(run_sync(idle.write(asio::buffer(std::string_view("x")))));
  CHECK(run_sync(idle.commit()));
}

/// Conformance: open_write errors.
template <class F>
void open_write_errors_case() {
  using coftp::storage_errc;
  using coftp::write_mode;
  F f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  for (auto mode : {write_mode::replace, write_mode::append, write_mode::create_new}) {
    CAPTURE(static_cast<int>(mode));
    const auto taken = mode == write_mode::create_new ? storage_errc::already_exists : storage_errc::is_a_directory;
    CHECK(write_file(f.fs, "/missing/a.txt", "x", mode) == storage_errc::not_found);
    CHECK(write_file(f.fs, "/d/missing/a.txt", "x", mode) == storage_errc::not_found);
    CHECK(write_file(f.fs, "/file/a.txt", "x", mode) == storage_errc::not_a_directory);
    CHECK(write_file(f.fs, "/d", "x", mode) == taken);
    CHECK(write_file(f.fs, "/", "x", mode) == taken);
  }
  CHECK(run_sync(f.fs.stat("/missing")).first == storage_errc::not_found);  // parents never created
  CHECK(names_in(f.fs, "/d").empty());
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"d", "file"});
  CHECK(read_all(f.fs, "/file").second == "x");
}

/// Conformance: append creates and appends.
template <class F>
void append_case() {
  using coftp::write_mode;
  F f;
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

/// Conformance: an append is invisible until committed, and abandoned leaves the file as
/// it was, byte for byte (issue #19: local_fs appended in place).
template <class F>
void append_abandon_case() {
  using coftp::storage_errc;
  using coftp::write_mode;
  F f;
  const std::string old_content = random_bytes(300000, 19);
  const std::string more = random_bytes(100003, 20);
  REQUIRE_FALSE(write_file(f.fs, "/log", old_content));
  {
    auto [ec, w] = run_sync(f.fs.open_write("/log", write_mode::append));
    REQUIRE_FALSE(ec);
    for (std::size_t i = 0; i < more.size(); i += 4096)
      REQUIRE_FALSE(run_sync(w.write(asio::buffer(more.data() + i, std::min<std::size_t>(4096, more.size() - i)))));
    // Nothing visible before commit: neither the size nor the bytes.
    CHECK(run_sync(f.fs.stat("/log")).second.size == old_content.size());
    CHECK(read_all(f.fs, "/log").second == old_content);
  }  // destroyed without commit
  auto [ec, got] = read_all(f.fs, "/log");
  REQUIRE_FALSE(ec);
  CHECK(got.size() == old_content.size());
  CHECK(got == old_content);
  CHECK(run_sync(f.fs.stat("/log")).second.size == old_content.size());
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"log"});

  // An abandoned append to a missing file creates nothing.
  {
    auto [nec, w] = run_sync(f.fs.open_write("/new.log", write_mode::append));
    REQUIRE_FALSE(nec);
    CHECK_FALSE(run_sync(w.write(asio::buffer(std::string_view("never committed")))));
  }
  CHECK(run_sync(f.fs.stat("/new.log")).first == storage_errc::not_found);
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"log"});

  // Committed, it holds the old content followed by the new.
  REQUIRE_FALSE(write_file(f.fs, "/log", more, write_mode::append, 8191));
  auto [cec, all] = read_all(f.fs, "/log");
  REQUIRE_FALSE(cec);
  CHECK(all.size() == old_content.size() + more.size());
  CHECK(all == old_content + more);
  CHECK(run_sync(f.fs.stat("/log")).second.size == old_content.size() + more.size());
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"log"});
}

/// Conformance: enter_directory, when the backend has it.
template <class F>
void enter_directory_case() {
  using coftp::storage_errc;
  F f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/e")));
  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  // probe_directory is what CWD asks: the backend's enter_directory, else stat.
  CHECK_FALSE(run_sync(coftp::probe_directory(f.fs, "/")));
  CHECK_FALSE(run_sync(coftp::probe_directory(f.fs, "/d")));
  CHECK_FALSE(run_sync(coftp::probe_directory(f.fs, "/d/e")));
  CHECK(run_sync(coftp::probe_directory(f.fs, "/file")) == storage_errc::not_a_directory);
  CHECK(run_sync(coftp::probe_directory(f.fs, "/missing")) == storage_errc::not_found);
  CHECK(run_sync(coftp::probe_directory(f.fs, "/missing/x")) == storage_errc::not_found);
  CHECK(run_sync(coftp::probe_directory(f.fs, "/file/x")) == storage_errc::not_a_directory);
  if constexpr (coftp::can_enter_directory<backend_of<F>>) {
    CHECK_FALSE(run_sync(f.fs.enter_directory("/d")));
    CHECK(run_sync(f.fs.enter_directory("/file")) == storage_errc::not_a_directory);
    CHECK(run_sync(f.fs.enter_directory("/missing")) == storage_errc::not_found);
  }
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"d", "file"});  // entering changes nothing
}

/// Conformance: a replacing upload from a restart offset.
template <class F>
void rest_case() {
  F f;
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

/// Conformance: a restarted upload is atomic and checks its offset.
template <class F>
void rest_errors_case() {
  using coftp::storage_errc;
  using coftp::write_mode;
  F f;
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

/// Conformance: create_new never replaces.
template <class F>
void create_new_case() {
  using coftp::storage_errc;
  using coftp::write_mode;
  F f;
  REQUIRE_FALSE(write_file(f.fs, "/taken", "old"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));

  CHECK_FALSE(write_file(f.fs, "/fresh", "fresh data", write_mode::create_new));
  CHECK(read_all(f.fs, "/fresh").second == "fresh data");
  auto [sec, info] = run_sync(f.fs.stat("/fresh"));
  REQUIRE_FALSE(sec);
  CHECK(info.type == coftp::file_type::regular);
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
    CHECK(run_sync(f.fs.stat("/race")).second.type == coftp::file_type::directory);
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

/// Conformance: list.
template <class F>
void list_case() {
  using coftp::file_type;
  using coftp::storage_errc;
  F f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/d/a.txt", "abc"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/sub")));
  REQUIRE_FALSE(write_file(f.fs, "/d/sub/deep.txt", "deep"));
  REQUIRE_FALSE(write_file(f.fs, "/d.txt", "sibling sorting between /d and /d/"));
  REQUIRE_FALSE(write_file(f.fs, "/d/empty", ""));

  auto [ec, entries] = run_sync(coftp::list_all(f.fs, "/d"));
  REQUIRE_FALSE(ec);
  CHECK(entries.size() == 3);
  auto a = find_entry(entries, "a.txt");
  REQUIRE(a != nullptr);
  CHECK(a->type == file_type::regular);
  CHECK(a->size == 3);
  auto sub = find_entry(entries, "sub");
  REQUIRE(sub != nullptr);
  CHECK(sub->type == file_type::directory);
  CHECK(sub->is_directory());
  auto empty = find_entry(entries, "empty");
  REQUIRE(empty != nullptr);
  CHECK(empty->size == 0);

  CHECK(names_in(f.fs, "/") == std::set<std::string>{"d", "d.txt"});
  CHECK(names_in(f.fs, "/d/sub") == std::set<std::string>{"deep.txt"});
  CHECK(run_sync(coftp::list_all(f.fs, "/d/a.txt")).first == storage_errc::not_a_directory);
  CHECK(run_sync(coftp::list_all(f.fs, "/missing")).first == storage_errc::not_found);
  CHECK(run_sync(coftp::list_all(f.fs, "/d/a.txt/x")).first == storage_errc::not_a_directory);
}

/// Conformance: a directory is read in batches of at most `listing_batch` entries, each
/// entry once, subdirectories' contents never among them, and entries removed during the
/// reading never shown twice.
template <class F>
void list_batches_case() {
  using coftp::listing_batch;
  F f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/big")));
  const std::size_t count = 2 * listing_batch + 37;
  std::set<std::string> expected;
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = "f" + std::to_string(1000 + i);
    if (i % 97 == 0) {  // some directories among the files, each with content of its own
      REQUIRE_FALSE(run_sync(f.fs.make_directory("/big/" + name)));
      REQUIRE_FALSE(write_file(f.fs, "/big/" + name + "/inner", "x"));
    } else {
      REQUIRE_FALSE(write_file(f.fs, "/big/" + name, "x"));
    }
    expected.insert(name);
  }
  auto [ec, dir] = run_sync(f.fs.open_directory("/big"));
  REQUIRE_FALSE(ec);
  std::set<std::string> seen;
  std::vector<coftp::file_info> batch;
  std::size_t reads = 0, removed = 0;
  for (; reads < count + 2; ++reads) {  // bounded: never more reads than entries
    REQUIRE_FALSE(run_sync(dir.read(batch)));
    if (batch.empty()) break;
    CHECK(batch.size() <= listing_batch);
    for (auto& e : batch) {
      CHECK_MESSAGE(seen.insert(e.name).second, "listed twice: " << e.name);
      CHECK(expected.count(e.name) == 1);
    }
    if (reads == 0) {
      // Remove two files the first batch showed: nothing is listed twice for it.
      for (auto& e : batch) {
        if (removed == 2) break;
        if (e.is_regular() && !run_sync(f.fs.remove_file("/big/" + e.name))) ++removed;
      }
    }
  }
  CHECK(batch.empty());
  CHECK(reads >= 3);  // more than two full batches
  CHECK(seen == expected);
  REQUIRE_FALSE(run_sync(dir.read(batch)));  // reading past the end stays at the end
  CHECK(batch.empty());
  CHECK(names_in(f.fs, "/big").size() == count - removed);
}

/// Conformance: make_directory.
template <class F>
void mkdir_case() {
  using coftp::storage_errc;
  F f;
  CHECK_FALSE(run_sync(f.fs.make_directory("/d")));
  auto [ec, info] = run_sync(f.fs.stat("/d"));
  REQUIRE_FALSE(ec);
  CHECK(info.type == coftp::file_type::directory);
  CHECK(info.is_directory());
  CHECK(info.name == "d");
  CHECK(names_in(f.fs, "/d").empty());
  CHECK(run_sync(f.fs.make_directory("/d")) == storage_errc::already_exists);
  CHECK(run_sync(f.fs.make_directory("/")) == storage_errc::already_exists);
  REQUIRE_FALSE(write_file(f.fs, "/file", "x"));
  CHECK(run_sync(f.fs.make_directory("/file")) == storage_errc::already_exists);
  CHECK(run_sync(f.fs.make_directory("/missing/d")) == storage_errc::not_found);
  CHECK(run_sync(f.fs.make_directory("/file/d")) == storage_errc::not_a_directory);
  CHECK_FALSE(run_sync(f.fs.make_directory("/d/e")));
  CHECK(names_in(f.fs, "/d") == std::set<std::string>{"e"});
  CHECK(read_all(f.fs, "/file").second == "x");
}

/// Conformance: remove_directory.
template <class F>
void rmdir_case() {
  using coftp::storage_errc;
  F f;
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  REQUIRE_FALSE(write_file(f.fs, "/d/x", "x"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/e")));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/e/sub")));
  CHECK(run_sync(f.fs.remove_directory("/d")) == storage_errc::not_empty);
  CHECK(run_sync(f.fs.remove_directory("/e")) == storage_errc::not_empty);
  CHECK(run_sync(f.fs.remove_directory("/d/x")) == storage_errc::not_a_directory);
  CHECK(run_sync(f.fs.remove_directory("/missing")) == storage_errc::not_found);
  CHECK(run_sync(f.fs.remove_directory("/")));
  CHECK(run_sync(f.fs.stat("/")).second.is_directory());
  CHECK(read_all(f.fs, "/d/x").second == "x");
  CHECK_FALSE(run_sync(f.fs.remove_directory("/e/sub")));
  CHECK_FALSE(run_sync(f.fs.remove_directory("/e")));
  CHECK(run_sync(f.fs.stat("/e")).first == storage_errc::not_found);
  CHECK(names_in(f.fs, "/") == std::set<std::string>{"d"});
}

/// Conformance: remove_file.
template <class F>
void remove_file_case() {
  using coftp::storage_errc;
  F f;
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

/// Conformance: rename.
template <class F>
void rename_case() {
  using coftp::storage_errc;
  F f;
  REQUIRE_FALSE(write_file(f.fs, "/a.txt", "A"));
  REQUIRE_FALSE(write_file(f.fs, "/b.txt", "B"));

  SUBCASE("a file") {
    CHECK_FALSE(run_sync(f.fs.rename("/a.txt", "/c.txt")));
    CHECK(run_sync(f.fs.stat("/a.txt")).first == storage_errc::not_found);
    CHECK(read_all(f.fs, "/c.txt").second == "A");
    CHECK(run_sync(f.fs.stat("/c.txt")).second.name == "c.txt");
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"b.txt", "c.txt"});
  }
  SUBCASE("a file into another directory") {
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
    CHECK_FALSE(run_sync(f.fs.rename("/a.txt", "/d/a.txt")));
    CHECK(read_all(f.fs, "/d/a.txt").second == "A");
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"b.txt", "d"});
    CHECK(names_in(f.fs, "/d") == std::set<std::string>{"a.txt"});
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
    CHECK(names_in(f.fs, "/") == std::set<std::string>{"a.txt", "b.txt", "d.txt", "f"});
  }
  SUBCASE("an empty directory") {
    REQUIRE_FALSE(run_sync(f.fs.make_directory("/empty")));
    CHECK_FALSE(run_sync(f.fs.rename("/empty", "/still_empty")));
    CHECK(run_sync(f.fs.stat("/still_empty")).second.is_directory());
    CHECK(names_in(f.fs, "/still_empty").empty());
    CHECK_FALSE(run_sync(f.fs.remove_directory("/still_empty")));
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
    CHECK(names_in(f.fs, "/d/sub").empty());
  }
}

/// Conformance: names with spaces, quotes and UTF-8.
template <class F>
void names_case() {
  F f;
  const std::string dir = "/dir with  spaces";
  const std::string name = "it's \"quoted\" \xC3\xBCn\xC3\xAF\x63\xC3\xB8\x64\xC3\xA9 \xE6\x96\x87\xE4\xBB\xB6.txt";
  const std::string renamed = "\xE2\x98\x83 'snow' man";
  REQUIRE_FALSE(run_sync(f.fs.make_directory(dir)));
  REQUIRE_FALSE(write_file(f.fs, dir + "/" + name, "payload"));
  CHECK(read_all(f.fs, dir + "/" + name).second == "payload");
  CHECK(names_in(f.fs, dir) == std::set<std::string>{name});
  CHECK(names_in(f.fs, "/") == std::set<std::string>{dir.substr(1)});
  CHECK(run_sync(f.fs.stat(dir + "/" + name)).second.name == name);
  CHECK_FALSE(run_sync(f.fs.rename(dir + "/" + name, dir + "/" + renamed)));
  CHECK(read_all(f.fs, dir + "/" + renamed).second == "payload");
  CHECK(names_in(f.fs, dir) == std::set<std::string>{renamed});
  CHECK_FALSE(run_sync(f.fs.remove_file(dir + "/" + renamed)));
  CHECK_FALSE(run_sync(f.fs.remove_directory(dir)));
  CHECK(names_in(f.fs, "/").empty());
}

/// Conformance: unique ids are stable and distinct.
template <class F>
void unique_case() {
  using coftp::write_mode;
  F f;
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
  const std::string root = unique_of("/");
  auto [ec, entries] = run_sync(coftp::list_all(f.fs, "/d"));
  REQUIRE_FALSE(ec);
  REQUIRE(entries.size() == 3);
  if (root.empty()) {  // a backend without ids: none at all
    for (const auto& e : entries) CHECK(e.unique == "");
    CHECK(unique_of("/d/a") == "");
    return;
  }
  const std::string d = unique_of("/d"), a = unique_of("/d/a"), b = unique_of("/d/b"), sub = unique_of("/d/sub"),
                    c = unique_of("/d/sub/c");
  const std::set<std::string> all{root, d, a, b, sub, c};
  CHECK(all.size() == 6);
  CHECK(all.count("") == 0);
  CHECK(unique_of("/d/a") == a);  // stable
  CHECK(find_entry(entries, "a")->unique == a);
  CHECK(find_entry(entries, "b")->unique == b);
  CHECK(find_entry(entries, "sub")->unique == sub);

  // A rename keeps it, for files and whole directories. An append may keep it or, where
  // it is written aside and renamed over the file (local_fs), give the new version one of
  // its own; either way the id is there and no other entry's.
  REQUIRE_FALSE(run_sync(f.fs.rename("/d/a", "/moved")));
  CHECK(unique_of("/moved") == a);
  REQUIRE_FALSE(run_sync(f.fs.rename("/d/sub", "/sub2")));
  CHECK(unique_of("/sub2") == sub);
  CHECK(unique_of("/sub2/c") == c);
  REQUIRE_FALSE(write_file(f.fs, "/moved", "+", write_mode::append));
  const std::string appended = unique_of("/moved");
  CHECK(appended != "");
  CHECK((appended == a || all.count(appended) == 0));
  CHECK(unique_of("/d/b") == b);
  // New entries get ids of their own, none of an entry that exists. (The id of the
  // version an append replaced may be taken again: inode numbers are recycled.)
  std::set<std::string> existing{root, d, appended, b, sub, c};
  REQUIRE_FALSE(write_file(f.fs, "/d/new", "n"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d/newdir")));
  const std::string n = unique_of("/d/new"), nd = unique_of("/d/newdir");
  CHECK(n != nd);
  CHECK(existing.count(n) == 0);
  CHECK(existing.count(nd) == 0);
}

/// Conformance: set_modified, when the backend has it.
template <class F>
void set_modified_case() {
  using coftp::storage_errc;
  using std::chrono::seconds;
  F f;
  REQUIRE_FALSE(write_file(f.fs, "/a", "a"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  if constexpr (coftp::can_set_modified<backend_of<F>>) {
    const auto t = std::chrono::system_clock::time_point(seconds(981173106));  // 2001-02-03 04:05:06 UTC
    CHECK_FALSE(run_sync(f.fs.set_modified("/a", t)));
    CHECK(std::chrono::floor<seconds>(run_sync(f.fs.stat("/a")).second.mtime) == t);
    CHECK_FALSE(run_sync(f.fs.set_modified("/d", t + seconds(1))));
    auto [ec, entries] = run_sync(coftp::list_all(f.fs, "/"));
    REQUIRE_FALSE(ec);
    REQUIRE(entries.size() == 2);
    CHECK(std::chrono::floor<seconds>(find_entry(entries, "a")->mtime) == t);
    CHECK(std::chrono::floor<seconds>(find_entry(entries, "d")->mtime) == t + seconds(1));
    CHECK(read_all(f.fs, "/a").second == "a");
    CHECK(run_sync(f.fs.set_modified("/missing", t)) == storage_errc::not_found);
    CHECK(run_sync(f.fs.set_modified("/missing/x", t)) == storage_errc::not_found);
    CHECK(run_sync(f.fs.set_modified("/a/x", t)) == storage_errc::not_a_directory);
  } else {
    CHECK(run_sync(f.fs.stat("/a")).second.size == 1);  // nothing to check but that it is usable
  }
}

/// Conformance: set_mode, when the backend has it.
template <class F>
void set_mode_case() {
  using coftp::storage_errc;
  F f;
  REQUIRE_FALSE(write_file(f.fs, "/a", "a"));
  REQUIRE_FALSE(run_sync(f.fs.make_directory("/d")));
  if constexpr (coftp::can_set_mode<backend_of<F>>) {
    CHECK_FALSE(run_sync(f.fs.set_mode("/a", 0640)));
    CHECK(run_sync(f.fs.stat("/a")).second.mode == 0640);
    CHECK_FALSE(run_sync(f.fs.set_mode("/d", 0750)));
    CHECK(run_sync(f.fs.stat("/d")).second.mode == 0750);
    CHECK_FALSE(run_sync(f.fs.set_mode("/a", 0100604)));  // only the permission bits count
    auto [ec, entries] = run_sync(coftp::list_all(f.fs, "/"));
    REQUIRE_FALSE(ec);
    REQUIRE(entries.size() == 2);
    CHECK(find_entry(entries, "a")->mode == 0604);
    CHECK(find_entry(entries, "d")->mode == 0750);
    // A replacing upload keeps the mode; contents are untouched by a mode change.
    REQUIRE_FALSE(write_file(f.fs, "/a", "v2"));
    CHECK(run_sync(f.fs.stat("/a")).second.mode == 0604);
    CHECK(read_all(f.fs, "/a").second == "v2");
    CHECK(run_sync(f.fs.set_mode("/missing", 0600)) == storage_errc::not_found);
    CHECK(run_sync(f.fs.set_mode("/a/x", 0600)) == storage_errc::not_a_directory);
  } else {
    CHECK(run_sync(f.fs.stat("/a")).second.size == 1);
  }
}

}  // namespace coftp::testing::conformance

// Each case as a doctest template test case, registered by COFTP_BACKEND_CONFORMANCE.
#define COFTP_CONFORMANCE_CASE(name, id) \
  TEST_CASE_TEMPLATE_DEFINE("conformance: " name * doctest::test_suite("storage conformance"), F, id)

COFTP_CONFORMANCE_CASE("stat of the root and of missing paths", coftp_conformance_stat) {
  coftp::testing::conformance::stat_case<F>();
}
COFTP_CONFORMANCE_CASE("write, commit, read back byte for byte", coftp_conformance_write) {
  coftp::testing::conformance::write_case<F>();
}
COFTP_CONFORMANCE_CASE("read from an offset", coftp_conformance_read_offset) {
  coftp::testing::conformance::read_offset_case<F>();
}
COFTP_CONFORMANCE_CASE("open_read errors", coftp_conformance_open_read_errors) {
  coftp::testing::conformance::open_read_errors_case<F>();
}
COFTP_CONFORMANCE_CASE("a reader keeps the content it opened", coftp_conformance_reader_snapshot) {
  coftp::testing::conformance::reader_snapshot_case<F>();
}
COFTP_CONFORMANCE_CASE("a writer destroyed without commit leaves no trace", coftp_conformance_abandon) {
  coftp::testing::conformance::abandon_case<F>();
}
COFTP_CONFORMANCE_CASE("open_write errors", coftp_conformance_open_write_errors) {
  coftp::testing::conformance::open_write_errors_case<F>();
}
COFTP_CONFORMANCE_CASE("append creates and appends", coftp_conformance_append) {
  coftp::testing::conformance::append_case<F>();
}
COFTP_CONFORMANCE_CASE("an abandoned append leaves the file as it was", coftp_conformance_append_abandon) {
  coftp::testing::conformance::append_abandon_case<F>();
}
COFTP_CONFORMANCE_CASE("enter_directory, or stat, tells CWD whether it may enter", coftp_conformance_enter_directory) {
  coftp::testing::conformance::enter_directory_case<F>();
}
COFTP_CONFORMANCE_CASE("a replacing upload from a restart offset", coftp_conformance_rest) {
  coftp::testing::conformance::rest_case<F>();
}
COFTP_CONFORMANCE_CASE("a restarted upload is atomic and checks its offset", coftp_conformance_rest_errors) {
  coftp::testing::conformance::rest_errors_case<F>();
}
COFTP_CONFORMANCE_CASE("create_new never replaces", coftp_conformance_create_new) {
  coftp::testing::conformance::create_new_case<F>();
}
COFTP_CONFORMANCE_CASE("list", coftp_conformance_list) {
  coftp::testing::conformance::list_case<F>();
}
COFTP_CONFORMANCE_CASE("a directory is read in bounded batches", coftp_conformance_list_batches) {
  coftp::testing::conformance::list_batches_case<F>();
}
COFTP_CONFORMANCE_CASE("make_directory", coftp_conformance_mkdir) {
  coftp::testing::conformance::mkdir_case<F>();
}
COFTP_CONFORMANCE_CASE("remove_directory", coftp_conformance_rmdir) {
  coftp::testing::conformance::rmdir_case<F>();
}
COFTP_CONFORMANCE_CASE("remove_file", coftp_conformance_remove_file) {
  coftp::testing::conformance::remove_file_case<F>();
}
COFTP_CONFORMANCE_CASE("rename", coftp_conformance_rename) {
  coftp::testing::conformance::rename_case<F>();
}
COFTP_CONFORMANCE_CASE("names with spaces, quotes and UTF-8", coftp_conformance_names) {
  coftp::testing::conformance::names_case<F>();
}
COFTP_CONFORMANCE_CASE("unique ids are stable and distinct", coftp_conformance_unique) {
  coftp::testing::conformance::unique_case<F>();
}
COFTP_CONFORMANCE_CASE("set_modified, when the backend has it", coftp_conformance_set_modified) {
  coftp::testing::conformance::set_modified_case<F>();
}
COFTP_CONFORMANCE_CASE("set_mode, when the backend has it", coftp_conformance_set_mode) {
  coftp::testing::conformance::set_mode_case<F>();
}

#undef COFTP_CONFORMANCE_CASE

/// Registers the storage conformance suite for each fixture type given (one or more):
/// a default-constructible struct with a member `fs`, the backend, holding an empty tree.
/// Use at namespace scope, once per fixture type and translation unit.
#define COFTP_BACKEND_CONFORMANCE(...)                                               \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_stat, __VA_ARGS__);                    \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_write, __VA_ARGS__);                   \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_read_offset, __VA_ARGS__);             \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_open_read_errors, __VA_ARGS__);        \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_reader_snapshot, __VA_ARGS__);         \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_abandon, __VA_ARGS__);                 \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_open_write_errors, __VA_ARGS__);       \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_append, __VA_ARGS__);                  \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_append_abandon, __VA_ARGS__);          \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_enter_directory, __VA_ARGS__);         \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_rest, __VA_ARGS__);                    \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_rest_errors, __VA_ARGS__);             \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_create_new, __VA_ARGS__);              \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_list, __VA_ARGS__);                    \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_list_batches, __VA_ARGS__);            \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_mkdir, __VA_ARGS__);                   \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_rmdir, __VA_ARGS__);                   \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_remove_file, __VA_ARGS__);             \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_rename, __VA_ARGS__);                  \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_names, __VA_ARGS__);                   \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_unique, __VA_ARGS__);                  \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_set_modified, __VA_ARGS__);            \
  TEST_CASE_TEMPLATE_INVOKE(coftp_conformance_set_mode, __VA_ARGS__)
