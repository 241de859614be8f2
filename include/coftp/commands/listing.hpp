// coftp/commands/listing.hpp - directory listings (RFC 959 4.1.3, RFC 3659 7): LIST,
// NLST, MLSD, MLST and STAT.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/common.hpp>
#include <coftp/config.hpp>
#include <coftp/listing.hpp>
#include <coftp/outcome.hpp>
#include <coftp/path.hpp>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <optional>
#include <type_traits>
#include <vector>

namespace coftp::commands {

namespace detail_listing {

// The storage's directory stream type.
template <class Session>
using directory_of = typename std::remove_cvref_t<decltype(std::declval<Session&>().storage())>::directory;

// What a listing argument names: a directory's entries, one file, or the entries a
// glob in the last component matched. A directory's first entries are read at once
// (sorted by name when the directory ends within COFTP_LISTING_SORT_LIMIT of them); the
// rest stays in `dir`, read batch after batch while the listing is sent.
template <class Dir>
struct target {
  resolved_path path;
  bool directory = false;     // path is a directory and entries are its content
  std::string name_prefix;    // what NLST puts before each name: the argument's path as written
  std::vector<file_info> entries;
  Dir dir;                    // with `more`: the rest of the directory
  bool more = false;
};

// The part of `arg` up to and including its last '/', trailing slashes aside: "sub/*.txt"
// gives "sub/", "sub*/" and "*.txt" give "".
inline std::string directory_part(std::string_view arg) {
  while (arg.size() > 1 && arg.back() == '/') arg.remove_suffix(1);
  auto slash = arg.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(arg.substr(0, slash + 1));
}

inline bool by_name(const file_info& a, const file_info& b) { return a.name < b.name; }

inline reply not_found(const std::error_code& ec) {
  return reply_for(ec, {{storage_errc::not_found, "Directory not found"},
                        {storage_errc::not_a_directory, "Directory not found"}});
}

inline reply unreadable() { return {reply_code::local_error, "Cannot read the directory"}; }

// Reads the first entries of `t.dir` into `t.entries`: the whole directory, sorted by
// name, when it ends within COFTP_LISTING_SORT_LIMIT entries; else those read so far,
// with `t.more` set and the rest left in the stream.
template <class Dir>
asio::awaitable<std::error_code> read_head(target<Dir>& t) {
  std::vector<file_info> batch;
  while (!t.more) {
    auto ec = co_await t.dir.read(batch);
    if (ec) co_return ec;
    if (batch.empty()) break;
    std::move(batch.begin(), batch.end(), std::back_inserter(t.entries));
    t.more = t.entries.size() > COFTP_LISTING_SORT_LIMIT;
  }
  if (!t.more) std::sort(t.entries.begin(), t.entries.end(), by_name);
  co_return std::error_code{};
}

// g++ 12 at -O2 inlines Asio's frame allocator (aligned_new) and deallocator into this
// coroutine and then takes them for a mismatched pair (a false -Wmismatched-new-delete).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Resolves `arg` and collects what it names. `globs`: a `*`, `?` or `[...]` in the last
// component selects entries of its directory (what `mget *.txt` sends), never crossing
// '/' and never more than COFTP_MAX_GLOB_MATCHES of them, sorted. A name that exists
// literally wins over its reading as a pattern.
template <class Session>
asio::awaitable<std::pair<reply, target<directory_of<Session>>>> gather(Session& s, std::string_view arg, bool globs) {
  using result_type = std::pair<reply, target<directory_of<Session>>>;
  target<directory_of<Session>> t;
  auto p = s.resolve(arg);
  if (!p) co_return result_type{coftp::detail::bad_path(), std::move(t)};
  t.path = *p;
  auto [ec, info] = co_await s.storage().stat(p->storage_path);
  std::string_view pattern = file_name(p->virtual_path);
  std::vector<file_info> batch;
  if (ec == storage_errc::not_found && globs && has_glob(pattern)) {
    auto parent = s.resolve(parent_path(p->virtual_path));
    auto [oec, dir] = co_await s.storage().open_directory(parent->storage_path);
    if (oec) co_return result_type{not_found(oec), std::move(t)};
    for (;;) {
      if (co_await dir.read(batch)) co_return result_type{unreadable(), std::move(t)};
      if (batch.empty()) break;
      for (auto& e : batch) {
        if (!glob_match(pattern, e.name)) continue;
        if (t.entries.size() == COFTP_MAX_GLOB_MATCHES)
          co_return result_type{
              reply{reply_code::file_unavailable,
                    "Too many matches (more than " + std::to_string(COFTP_MAX_GLOB_MATCHES) + "), narrow the pattern"},
              std::move(t)};
        t.entries.push_back(std::move(e));
      }
    }
    if (t.entries.empty()) co_return result_type{reply{reply_code::file_unavailable, "No files found"}, std::move(t)};
    t.name_prefix = directory_part(arg);
    std::sort(t.entries.begin(), t.entries.end(), by_name);
    co_return result_type{reply{}, std::move(t)};
  }
  if (ec) co_return result_type{not_found(ec), std::move(t)};
  if (info.is_directory()) {
    auto [oec, dir] = co_await s.storage().open_directory(p->storage_path);
    if (oec) co_return result_type{not_found(oec), std::move(t)};
    t.directory = true;
    t.dir = std::move(dir);
    // "NLST sub" answers "sub/a.txt": each name can go to RETR as it is (as vsftpd does).
    if (!arg.empty()) {
      std::string_view d = arg;
      while (d.size() > 1 && d.back() == '/') d.remove_suffix(1);
      t.name_prefix = d == "/" ? std::string("/") : std::string(d) + "/";
    }
    auto rec = co_await read_head(t);
    if (rec) co_return result_type{unreadable(), std::move(t)};
  } else {
    // RFC 959: "If the pathname specifies a file then the server should send current
    // information on the file."
    info.name = std::string(pattern);
    t.name_prefix = directory_part(arg);  // "NLST sub/a.txt" answers "sub/a.txt"
    t.entries.push_back(std::move(info));
  }
  co_return result_type{reply{}, std::move(t)};
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Bytes of listing text formatted before they are written to the data connection.
inline constexpr std::size_t listing_chunk = 64 * 1024;

// A listing's text, produced a chunk at a time from a target: its first entries, then
// the rest of its directory as the backend yields it (what session::send_generated
// asks for). `format(out, entry)` appends one entry's line; `head` goes first.
template <class Dir, class Format>
struct listing_source {
  target<Dir>& t;
  Format format;
  std::string head{};
  std::size_t next_entry = 0;

  asio::awaitable<std::error_code> next(std::string& out) {
    out.swap(head);
    head.clear();
    while (out.size() < listing_chunk) {
      if (next_entry == t.entries.size()) {
        if (!t.more) break;
        next_entry = 0;
        auto ec = co_await t.dir.read(t.entries);
        if (ec) co_return ec;
        if (t.entries.empty()) {
          t.more = false;
          break;
        }
      }
      format(out, t.entries[next_entry++]);
    }
    co_return std::error_code{};
  }
};

template <class Dir, class Format>
listing_source<Dir, Format> make_source(target<Dir>& t, Format format) {
  return listing_source<Dir, Format>{t, std::move(format)};
}

enum class style { long_form, names };

// The same false -Wmismatched-new-delete as for gather, in these coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// LIST -R and NLST -R: a directory and, depth first, its subdirectories, a chunk at a
// time, as `ls -lR` prints them. LIST: each directory after a blank line and its header
// "path:", the top one's "." or its path as the client wrote it; NLST: no headers, each
// name with its path from the argument ("sub/deeper/a.txt"), so that RETR takes it as it
// is. Bounded: at most COFTP_MAX_LISTING_DEPTH levels below the top and
// COFTP_MAX_RECURSIVE_ENTRIES entries in all (`truncated` then says which bound ended
// it); held in memory: one directory's first entries and the subdirectories still to
// list. Symlinks are not followed (a backend reports them as `file_type::symlink`);
// one that a backend follows into an ancestor (local_fs follows those that stay beneath
// the root) is recognised by its `unique` identity and not listed again.
template <class Session>
struct recursive_source {
  using dir_type = directory_of<Session>;
  enum class cut { none, depth, entries };

  struct pending {
    std::string virtual_path;
    std::string header;  // LIST's "path:" line, without the colon
    std::string prefix;  // what NLST puts before each name
    unsigned depth = 0;
    std::size_t node = 0;  // in `nodes`
  };
  struct node {
    std::string unique;
    std::size_t parent;
  };

  Session& s;
  style how;
  target<dir_type> current;  // the directory being listed
  pending where{};           // and where it is
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  std::vector<pending> stack{};     // directories to list, the next one last
  std::vector<pending> children{};  // subdirectories of `current`, in listing order
  std::vector<node> nodes{};        // every directory listed, for the ancestor test
  std::size_t next_entry = 0;
  std::size_t sent = 0;
  bool listing = true;      // `current` is open
  bool header_due = true;   // its header is not sent yet
  bool first = true;        // no header sent yet at all
  cut truncated = cut::none;

  recursive_source(Session& session, style h, target<dir_type>&& top, std::string_view arg, std::string top_unique)
      : s(session), how(h), current(std::move(top)) {
    std::string_view shown = arg;
    while (shown.size() > 1 && shown.back() == '/') shown.remove_suffix(1);
    where.virtual_path = current.path.virtual_path;
    where.header = shown.empty() ? std::string(".") : std::string(shown);
    where.prefix = current.name_prefix;
    nodes.push_back({std::move(top_unique), 0});
  }

  // True if `unique` names the directory of `n` or one of its ancestors: a loop.
  bool on_path(const std::string& unique, std::size_t n) const {
    if (unique.empty()) return false;
    for (;;) {
      if (nodes[n].unique == unique) return true;
      if (n == 0) return false;
      n = nodes[n].parent;
    }
  }

  void add(std::string& out, const file_info& e) {
    if (how == style::long_form) {
      format_list_line(out, e, now);
    } else {
      out += where.prefix;
      out += e.name;
      out += "\r\n";
    }
    if (!e.is_directory() || on_path(e.unique, where.node)) return;
    if (where.depth == COFTP_MAX_LISTING_DEPTH) {
      truncated = cut::depth;
      return;
    }
    pending child;
    child.virtual_path = where.virtual_path == "/" ? "/" + e.name : where.virtual_path + "/" + e.name;
    child.header = where.header == "/" ? "/" + e.name : where.header + "/" + e.name;
    child.prefix = where.prefix + e.name + "/";
    child.depth = where.depth + 1;
    child.node = nodes.size();
    nodes.push_back({e.unique, where.node});
    children.push_back(std::move(child));
  }

  // Opens the next directory of the stack; false when there is none left. A directory
  // that went away or cannot be opened meanwhile is left out, as `ls -R` does (it
  // tells stderr, which FTP has not).
  asio::awaitable<bool> open_next() {
    while (!stack.empty()) {
      where = std::move(stack.back());
      stack.pop_back();
      auto p = s.resolve(where.virtual_path);
      if (!p) continue;
      auto [oec, dir] = co_await s.storage().open_directory(p->storage_path);
      if (oec) continue;
      current = target<dir_type>{};
      current.path = std::move(*p);
      current.directory = true;
      current.dir = std::move(dir);
      auto rec = co_await read_head(current);
      if (rec) continue;
      next_entry = 0;
      header_due = true;
      co_return true;
    }
    co_return false;
  }

  asio::awaitable<std::error_code> next(std::string& out) {
    while (out.size() < listing_chunk && truncated != cut::entries) {
      if (!listing) {
        bool more = co_await open_next();
        if (!more) break;
        listing = true;
      }
      if (header_due && how == style::long_form) {
        if (!first) out += "\r\n";
        out += where.header;
        out += ":\r\n";
        first = false;
      }
      header_due = false;
      while (out.size() < listing_chunk) {
        if (next_entry == current.entries.size()) {
          if (!current.more) break;
          next_entry = 0;
          auto ec = co_await current.dir.read(current.entries);
          if (ec) co_return ec;
          if (current.entries.empty()) {
            current.more = false;
            break;
          }
        }
        if (sent == COFTP_MAX_RECURSIVE_ENTRIES) {
          truncated = cut::entries;
          break;
        }
        add(out, current.entries[next_entry++]);
        ++sent;
      }
      if (truncated == cut::entries) break;
      if (next_entry == current.entries.size() && !current.more) {
        // Done with this directory: its subdirectories come next, in order.
        stack.insert(stack.end(), std::make_move_iterator(children.rbegin()), std::make_move_iterator(children.rend()));
        children.clear();
        current = target<dir_type>{};
        listing = false;
      } else {
        break;  // a full chunk; the header is not repeated
      }
    }
    co_return std::error_code{};
  }
};

template <class Session>
asio::awaitable<reply> run_listing(Session& s, std::string_view arg, style how) {
  s.take_restart();
  auto path = coftp::detail::listing_path(arg);
  auto [failed, t] = co_await gather(s, path, true);
  if (!failed.empty()) co_return failed;
  if (t.directory && coftp::detail::listing_recursive(arg)) {
    auto [sec, self] = co_await s.storage().stat(t.path.storage_path);
    std::string unique = sec ? std::string() : std::move(self.unique);
    std::string shown = t.path.virtual_path;
    recursive_source<Session> source(s, how, std::move(t), path, std::move(unique));
    auto r = co_await s.send_generated(
        source, reply{reply_code::opening_data_connection, "Opening data connection for directory listing"}, shown);
    if (!r.ok()) co_return reply_for(r);
    if (source.truncated == recursive_source<Session>::cut::entries)
      co_return reply{reply_code::transfer_complete, "Directory listing truncated: more than " +
                                                         std::to_string(COFTP_MAX_RECURSIVE_ENTRIES) + " entries"};
    if (source.truncated == recursive_source<Session>::cut::depth)
      co_return reply{reply_code::transfer_complete, "Directory listing truncated: directories more than " +
                                                         std::to_string(COFTP_MAX_LISTING_DEPTH) +
                                                         " levels down not listed"};
    co_return reply{reply_code::transfer_complete, "Directory listing sent"};
  }
  auto now = std::chrono::system_clock::now();
  auto source = make_source(t, [&t, how, now](std::string& out, const file_info& e) {
    if (how == style::long_form) {
      format_list_line(out, e, now);
    } else {
      out += t.name_prefix;
      out += e.name;
      out += "\r\n";
    }
  });
  auto r = co_await s.send_generated(
      source, reply{reply_code::opening_data_connection, "Opening data connection for directory listing"},
      t.path.virtual_path);
  if (!r.ok()) co_return reply_for(r);
  co_return reply{reply_code::transfer_complete, "Directory listing sent"};
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template <class Session>
void append_facts(Session& s, std::string& out, const file_info& f, std::string_view name,
                  mlst_entry kind = mlst_entry::normal) {
  format_facts(out, f, s.mlst_facts(), s.user().perms, name, kind);
}

}  // namespace detail_listing

/// RFC 959: "This command causes a list to be sent from the server to the passive
/// DTP." The form is `ls -l`'s; words starting with '-' are ls options, not paths.
/// "-R" (`ncftpls -R`, "LIST -lR") lists the subdirectories too, as `ls -lR` does:
/// each directory after its "path:" header and a blank line, bounded in depth
/// (COFTP_MAX_LISTING_DEPTH) and entries (COFTP_MAX_RECURSIVE_ENTRIES); a truncated
/// listing ends with "226 Directory listing truncated: ...". Other options are ignored.
struct list {
  static constexpr std::string_view verb = "LIST";
  static constexpr needs requires_ = needs::login | needs::data_connection;
  static constexpr permissions rights = permissions::list;
  static constexpr std::string_view syntax = "LIST [<sp> pathname or pattern]";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    return detail_listing::run_listing(s, arg, detail_listing::style::long_form);
  }
};

/// RFC 959: "This command causes a directory listing to be sent from server to user
/// site ... The server will return a stream of names of files and no other
/// information." Each name keeps the path the client wrote ("NLST sub" answers
/// "sub/a.txt", "NLST *.txt" answers "a.txt"), so that it can be passed to RETR as it is.
/// "NLST -R" names the entries of the subdirectories too, each with its path
/// ("sub/deeper/b.txt"), with LIST -R's bounds.
struct nlst {
  static constexpr std::string_view verb = "NLST";
  static constexpr needs requires_ = needs::login | needs::data_connection;
  static constexpr permissions rights = permissions::list;
  static constexpr std::string_view syntax = "NLST [<sp> pathname or pattern]";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    return detail_listing::run_listing(s, arg, detail_listing::style::names);
  }
};

/// RFC 3659 7.2: "The MLSD command is used to obtain a listing of a directory in the
/// format defined ... The listing is sent over a data connection." Entries carry the
/// facts selected with OPTS MLST; the directory itself comes first as type=cdir.
struct mlsd {
  static constexpr std::string_view verb = "MLSD";
  static constexpr needs requires_ = needs::login | needs::data_connection;
  static constexpr permissions rights = permissions::list;
  static constexpr std::string_view syntax = "MLSD [<sp> pathname]";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    s.take_restart();
    auto [failed, t] = co_await detail_listing::gather(s, arg, false);
    if (!failed.empty()) co_return failed;
    // RFC 3659 7.2.1: "If the pathname does not refer to a directory, 501."
    if (!t.directory) co_return reply{reply_code::bad_arguments, "Not a directory, use MLST for a file"};
    auto source = detail_listing::make_source(t, [&s](std::string& out, const file_info& e) {
      detail_listing::append_facts(s, out, e, e.name);
      out += "\r\n";
    });
    auto [ec, self] = co_await s.storage().stat(t.path.storage_path);
    if (!ec) {
      detail_listing::append_facts(s, source.head, self, ".", mlst_entry::cdir);
      source.head += "\r\n";
    }
    auto r = co_await s.send_generated(
        source, reply{reply_code::opening_data_connection, "Opening data connection for MLSD"}, t.path.virtual_path);
    if (!r.ok()) co_return reply_for(r);
    co_return reply{reply_code::transfer_complete, "MLSD complete"};
  }
};

/// RFC 3659 7.2: "The MLST command is used to obtain information about a single file
/// system object ... the information is returned over the control connection", as a
/// 250 multi-line reply whose one entry line starts with a space.
struct mlst {
  static constexpr std::string_view verb = "MLST";
  static constexpr needs requires_ = needs::login | needs::path;
  static constexpr permissions rights = permissions::list;
  static constexpr std::string_view syntax = "MLST [<sp> pathname]";
  static constexpr std::string_view feature = "MLST type*;size*;modify*;perm*;unique;";
  template <class Session>
  static asio::awaitable<reply> run(Session& s, resolved_path p) {
    auto [ec, info] = co_await s.storage().stat(p.storage_path);
    if (ec) co_return reply_for(ec);
    std::string text = "Listing " + p.virtual_path + "\n ";
    detail_listing::append_facts(s, text, info, p.virtual_path);
    text += "\nEnd";
    co_return reply{reply_code::file_action_ok, std::move(text)};
  }
};

/// RFC 959: "This command shall cause a status response to be sent over the control
/// connection in the form of a reply." Without an argument: the session's status
/// (211). With a pathname: "analogous to the 'list' command except that data shall be
/// transferred over the control connection" (212 for a directory, 213 for a file).
/// During a transfer, without an argument: "the server responds with the status of the
/// operation in progress" (213), at once (after the transfer's 150, so that replies never
/// interleave).
struct stat {
  static constexpr std::string_view verb = "STAT";
  static constexpr needs requires_ = needs::none;
  static constexpr std::string_view syntax = "STAT [<sp> pathname]";
  static constexpr while_transferring during_transfer = while_transferring::answer;

  template <class Session>
  static std::optional<reply> answer_during_transfer(Session& s, std::string_view arg) {
    if (!arg.empty() || !s.transfer_reporting()) return std::nullopt;
    const auto& p = s.progress();
    std::string what = p.direction == transfer_direction::upload    ? "Receiving "
                       : p.direction == transfer_direction::listing ? "Sending listing of "
                                                                    : "Sending ";
    std::string line = " " + std::to_string(p.bytes);
    if (p.total != 0) line += " of " + std::to_string(p.total);
    line += " bytes transferred";
    return reply{reply_code::file_status, "Status: " + what + p.path + "\n" + line + "\nEnd of status"};
  }

  template <class Session>
  static asio::awaitable<reply> run(Session& s, std::string_view arg) {
    if (arg.empty()) co_return status(s);
    // With a pathname STAT is a listing: LIST's guards, checked by dispatch's code.
    const command as_listing{std::string(verb), std::string(arg)};
    auto r = co_await coftp::detail::guarded_run<pathname>(s, as_listing);
    co_return r;
  }

  /// STAT pathname: needs login and `permissions::list`.
  struct pathname {
    static constexpr std::string_view verb = "STAT";
    static constexpr needs requires_ = needs::login;
    static constexpr permissions rights = permissions::list;
    template <class Session>
    static asio::awaitable<reply> run(Session& s, std::string_view arg);
  };

  template <class Session>
  static asio::awaitable<reply> list_path(Session& s, std::string_view arg) {
    auto [failed, t] = co_await detail_listing::gather(s, coftp::detail::listing_path(arg), true);
    if (!failed.empty()) co_return failed;
    // The reply is one message on the control connection: bounded, unlike LIST's stream.
    std::size_t count = 0;
    auto now = std::chrono::system_clock::now();
    auto source = detail_listing::make_source(t, [&count, now](std::string& out, const file_info& e) {
      format_list_line(out, e, now);
      ++count;
    });
    std::string lines, chunk;
    do {
      chunk.clear();
      if (co_await source.next(chunk)) co_return detail_listing::unreadable();
      if (count > COFTP_MAX_GLOB_MATCHES)
        co_return reply{reply_code::file_unavailable, "Too many entries for STAT (more than " +
                                                          std::to_string(COFTP_MAX_GLOB_MATCHES) + "), use LIST"};
      lines += chunk;
    } while (!chunk.empty());
    std::string text = "Status of " + t.path.virtual_path + ":\n";
    for (char c : lines)
      if (c != '\r') text += c;
    text += "End of status";
    co_return reply{t.directory ? reply_code::directory_status : reply_code::file_status, std::move(text)};
  }

  template <class Session>
  static reply status(Session& s) {
    const auto& st = s.stats();
    std::string text = "coftp FTP server status:\n";
    text += " Connected to " + s.info().remote_address + "\n";
    text += s.logged_in() ? " Logged in as " + s.user().name + "\n" : std::string(" Not logged in\n");
    text += std::string(" TYPE: ") + (s.ascii() ? "ASCII" : "BINARY") + ", STRUcture: File, MODE: Stream\n";
    text += " Data connection: " + std::string(s.data_mode()) + "\n";
    text += " Files sent: " + std::to_string(st.files_sent) + " (" + std::to_string(st.bytes_sent) + " bytes)\n";
    text += " Files received: " + std::to_string(st.files_received) + " (" + std::to_string(st.bytes_received) +
            " bytes)\n";
    text += "End of status";
    return {reply_code::system_status, std::move(text)};
  }
};

template <class Session>
asio::awaitable<reply> stat::pathname::run(Session& s, std::string_view arg) {
  return stat::list_path(s, arg);
}

}  // namespace coftp::commands
