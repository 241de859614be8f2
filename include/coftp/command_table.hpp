// coftp/command_table.hpp - the compile-time table of command handlers and dispatch.
//
// A handler is a struct naming its verb, declaring what it needs (login, an argument,
// the user's rights, a resolved path, a data connection) and offering `run(session,
// argument)`. The guards are checked here, once, so no handler repeats them. Tables are
// type lists: add or replace verbs with `with<...>`, drop them with `without<...>`; the
// FEAT reply is built from the table.
#pragma once

#include <coftp/auth.hpp>
#include <coftp/command.hpp>
#include <coftp/reply.hpp>

#include <asio/awaitable.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace coftp {

/// What dispatch checks before a handler runs. Combine with `|`.
enum class needs : unsigned {
  none = 0,
  login = 1,      ///< "530 Not logged in" before a successful PASS
  argument = 2,   ///< "501 <usage>" when the argument is empty
  read = 4,       ///< older spelling of `rights = permissions::read` (retrieve and list)
  write = 8,      ///< older spelling of `rights = permissions::write` (every modifying right)
  unbanned = 16,  ///< a login step: "421" and the end of the session once the address is banned
  /// The argument resolved against the working directory: the handler is
  /// `run(Session&, resolved_path)`; "501 Invalid path" when the argument is no path.
  path = 32,
  /// A data connection prepared by PASV, EPSV, PORT or EPRT: "425 Use PASV or EPSV first".
  /// A transfer command refused by this guard or by `path` drops the REST marker, as one
  /// that ran does.
  data_connection = 64,
};
constexpr needs operator|(needs a, needs b) noexcept { return needs(unsigned(a) | unsigned(b)); }
constexpr bool has(needs set, needs n) noexcept { return (unsigned(set) & unsigned(n)) != 0; }

/// What a command sent while a transfer runs does (RFC 959 4.1.1, 4.1.3), declared by
/// its handler as `static constexpr while_transferring during_transfer = ...;`.
enum class while_transferring {
  later,   ///< kept, in order, and run once the transfer has its reply (the default)
  cut,     ///< cuts the transfer, then runs first after its reply (ABOR: 426, then 226)
  last,    ///< kept, in order; nothing after it is read, and the transfer ends in peace (QUIT)
  answer,  ///< answered at once by the handler's `answer_during_transfer(s, argument)` when
           ///< that returns a reply, after the transfer's 150 (STAT); kept as `later` otherwise
};

/// The requirements on a command handler (static members only):
/// `verb` (what `parse_command` produces: 1-15 characters, an upper-case letter then
/// upper-case letters or digits, see `valid_verb`; checked when a table is built), `requires_` (a `needs` set), and
/// `static asio::awaitable<reply> run(Session&, std::string_view argument)` (with
/// `needs::path`: `run(Session&, resolved_path)`).
/// Optional: `rights` (the `permissions` the user must hold, else "550 Permission
/// denied"; checked after login and argument), `usage` (the 501 text for a missing argument), `feature` (its FEAT line),
/// `syntax` (what `HELP VERB` shows) and `template <class Session> static constexpr bool
/// enabled` (false: the command is absent for this session type, e.g. MFMT on a backend
/// that cannot set times; it answers 502 and stays out of FEAT and HELP), and
/// `template <class Session> static bool offered(const Session&)`, the same decided at
/// run time (AUTH TLS only when the server has a certificate), `during_transfer` (a
/// `while_transferring`), `secret_argument = true` (observers see "****": PASS) and
/// `follows` (the verb it must immediately follow: RNTO's "RNFR"; the pending first half
/// of the pair is dropped by any other command).
template <class H>
concept command_handler = requires {
  { H::verb } -> std::convertible_to<std::string_view>;
  { H::requires_ } -> std::convertible_to<needs>;
};

namespace detail {
/// The replies of the guards that handlers give too.
inline reply bad_path() { return {reply_code::bad_arguments, "Invalid path"}; }
inline reply permission_denied() { return {reply_code::file_unavailable, "Permission denied"}; }
inline reply no_data_connection() { return {reply_code::cannot_open_data, "Use PASV or EPSV first"}; }

// One instantiation per handler, so that the compiler's note names the handler whose
// verb is wrong. A handler the parser could never select would otherwise compile, show up
// in FEAT and HELP, and answer "500 Unknown command" (issue #19).
template <class H>
struct verb_check {
  static constexpr bool ok() {
    if constexpr (command_handler<H>) return valid_verb(std::string_view(H::verb));
    else return true;  // reported by the command_handler assertion
  }
  static_assert(ok(),
                "a command handler's verb must be what parse_command produces: 1-15 characters, an upper-case "
                "ASCII letter then upper-case letters or digits (\"XMD5\", not \"xmd5\", \"X MD5\", \"5X\" or \"\")");
  static constexpr bool value = true;
};

template <class H>
constexpr std::string_view usage_of() {
  if constexpr (requires { H::usage; }) return H::usage;
  else return "Syntax error in parameters or arguments";
}
template <class H>
constexpr std::string_view feature_of() {
  if constexpr (requires { H::feature; }) return H::feature;
  else return {};
}
template <class H>
constexpr std::string_view syntax_of() {
  if constexpr (requires { H::syntax; }) return H::syntax;
  else return H::verb;
}
// The rights a handler needs: its `rights`, plus those its legacy needs::read and
// needs::write flags stand for.
template <class H>
constexpr permissions rights_of() {
  permissions p = permissions::none;
  if constexpr (requires { H::rights; }) p = p | permissions(H::rights);
  if constexpr (has(H::requires_, needs::read)) p = p | permissions::read;
  if constexpr (has(H::requires_, needs::write)) p = p | permissions::write;
  return p;
}
template <class H>
constexpr while_transferring during_transfer_of() {
  if constexpr (requires { H::during_transfer; }) return H::during_transfer;
  else return while_transferring::later;
}
template <class H>
constexpr bool secret_argument_of() {
  if constexpr (requires { H::secret_argument; }) return H::secret_argument;
  else return false;
}
template <class H>
constexpr std::string_view follows_of() {
  if constexpr (requires { H::follows; }) return H::follows;
  else return {};
}
// Session = void: no session type known, every handler counts.
template <class H, class Session>
constexpr bool enabled_for() {
  if constexpr (std::is_void_v<Session>) return true;
  else if constexpr (requires { H::template enabled<Session>; }) return H::template enabled<Session>;
  else return true;
}

// Runtime availability: a handler may declare `template <class Session> static bool
// offered(const Session&)` (AUTH, PBSZ and PROT only when a certificate is configured).
template <class H, class Session>
bool offered_to(const Session& s) {
  if constexpr (requires { H::offered(s); }) return H::offered(s);
  else return true;
}

// Verbs of RFC 959, 2228, 2389, 2428, 2640, 3659, 7151 and RFC 775 X-aliases: a verb
// from this list that the table lacks is "502 Command not implemented"; any other
// verb is "500 Unknown command".
inline constexpr std::array<std::string_view, 53> known_verbs = {
    "ABOR", "ACCT", "ADAT", "ALLO", "APPE", "AUTH", "CCC",  "CDUP", "CONF", "CWD",  "DELE",
    "ENC",  "EPRT", "EPSV", "FEAT", "HELP", "HOST", "LANG", "LIST", "LPRT", "LPSV", "MDTM",
    "MFCT", "MFF",  "MFMT", "MIC",  "MKD",  "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS",
    "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD",  "QUIT", "REIN", "REST", "RETR", "RMD",
    "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR", "STOU", "STRU"};
inline constexpr std::array<std::string_view, 8> more_known_verbs = {
    "SYST", "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD"};

inline bool is_known_verb(std::string_view v) {
  return std::find(known_verbs.begin(), known_verbs.end(), v) != known_verbs.end() ||
         std::find(more_known_verbs.begin(), more_known_verbs.end(), v) != more_known_verbs.end();
}

// A guard's refusal of a transfer command takes the REST marker with it.
template <class H, class Session>
reply refuse_transfer(Session& s, reply r) {
  if constexpr (has(H::requires_, needs::data_connection)) s.take_restart();
  return r;
}

// Runs one handler behind its declared guards.
template <class H, class Session>
asio::awaitable<reply> guarded_run(Session& s, const command& cmd) {
  constexpr needs n = H::requires_;
  // A session opened before its address was banned stops at its next login attempt.
  if constexpr (has(n, needs::unbanned))
    if (s.banned()) co_return s.refuse_banned();
  if constexpr (has(n, needs::login))
    if (!s.logged_in()) co_return reply{reply_code::not_logged_in, "Not logged in"};
  if constexpr (has(n, needs::argument))
    if (cmd.argument.empty()) co_return reply{reply_code::bad_arguments, std::string(usage_of<H>())};
  constexpr permissions want = rights_of<H>();
  if constexpr (want != permissions::none)
    if (!allows(s.user().perms, want)) co_return permission_denied();
  if constexpr (has(n, needs::path)) {
    auto p = s.resolve(cmd.argument);
    if (!p) co_return refuse_transfer<H>(s, bad_path());
    if constexpr (has(n, needs::data_connection))
      if (!s.data_ready()) co_return refuse_transfer<H>(s, no_data_connection());
    auto r = co_await H::run(s, std::move(*p));
    co_return r;
  } else {
    if constexpr (has(n, needs::data_connection))
      if (!s.data_ready()) co_return refuse_transfer<H>(s, no_data_connection());
    auto r = co_await H::run(s, std::string_view(cmd.argument));
    co_return r;
  }
}

inline asio::awaitable<reply> unknown_command(const command& cmd) {
  if (is_known_verb(cmd.verb)) co_return reply{reply_code::not_implemented, "Command not implemented"};
  co_return reply{reply_code::syntax_error, "Unknown command"};
}

}  // namespace detail

template <class... Handlers>
struct command_table;

namespace detail {
template <class A, class B>
struct join2;
template <class... A, class... B>
struct join2<command_table<A...>, command_table<B...>> {
  using type = command_table<A..., B...>;
};
template <class Acc, class... Rest>
struct join_all {
  using type = Acc;
};
template <class Acc, class First, class... Rest>
struct join_all<Acc, First, Rest...> {
  using type = typename join_all<typename join2<Acc, First>::type, Rest...>::type;
};
// Keeps the handlers of Table whose verb differs from V::verb.
template <class Table, class V>
struct drop_verb;
template <class... H, class V>
struct drop_verb<command_table<H...>, V> {
  using type = typename join_all<
      command_table<>,
      std::conditional_t<std::string_view(H::verb) == std::string_view(V::verb), command_table<>,
                         command_table<H>>...>::type;
};
template <class Table, class... Vs>
struct drop_verbs {
  using type = Table;
};
template <class Table, class V, class... Vs>
struct drop_verbs<Table, V, Vs...> {
  using type = typename drop_verbs<typename drop_verb<Table, V>::type, Vs...>::type;
};
}  // namespace detail

/// A compile-time list of command handlers.
///
/// @par Example
/// @code
/// using my_commands = coftp::default_commands::with<site_chmod>   // add or replace a verb
///                                           ::without<coftp::commands::dele>;  // drop one
/// @endcode
template <class... Handlers>
struct command_table {
  static_assert((command_handler<Handlers> && ...), "every entry must be a command handler");
  static_assert((detail::verb_check<Handlers>::value && ...));

  /// This table plus `More`, each replacing a handler of the same verb.
  template <class... More>
  using with = typename detail::join2<typename detail::drop_verbs<command_table, More...>::type,
                                      command_table<More...>>::type;

  /// This table without the handlers whose verbs are those of `Gone`.
  template <class... Gone>
  using without = typename detail::drop_verbs<command_table, Gone...>::type;

  static constexpr std::size_t size = sizeof...(Handlers);

  /// True if the table has a handler for `verb` (upper case), enabled for `Session`.
  template <class Session = void>
  static constexpr bool contains(std::string_view verb) noexcept {
    return ((detail::enabled_for<Handlers, Session>() && std::string_view(Handlers::verb) == verb) || ...);
  }

  /// The verbs of the table enabled for `Session`, in table order (what HELP lists).
  template <class Session = void>
  static std::vector<std::string_view> verbs() {
    std::vector<std::string_view> out;
    (
        [&] {
          if constexpr (detail::enabled_for<Handlers, Session>()) out.push_back(Handlers::verb);
        }(),
        ...);
    return out;
  }

  /// The FEAT lines (RFC 2389) of the handlers enabled for `Session`, and of their
  /// sub-commands (SITE's), sorted, without duplicates.
  template <class Session = void>
  static std::vector<std::string_view> features() {
    std::vector<std::string_view> out;
    add_features<Session>(out, nullptr);
    return sorted(std::move(out));
  }

  /// The verbs offered to the session `s` (enabled and, at run time, offered).
  template <class Session>
  static std::vector<std::string_view> verbs(const Session& s) {
    std::vector<std::string_view> out;
    (
        [&] {
          if constexpr (detail::enabled_for<Handlers, Session>())
            if (detail::offered_to<Handlers>(s)) out.push_back(Handlers::verb);
        }(),
        ...);
    return out;
  }

  /// The FEAT lines offered to the session `s`, sorted, without duplicates.
  template <class Session>
  static std::vector<std::string_view> features(const Session& s) {
    std::vector<std::string_view> out;
    add_features<Session>(out, &s);
    return sorted(std::move(out));
  }

  /// Appends the FEAT lines of the handlers enabled for `Session` (offered to `*s`, when
  /// given) and of their `sub_commands` tables.
  template <class Session>
  static void add_features(std::vector<std::string_view>& out, const Session* s) {
    (
        [&] {
          if constexpr (detail::enabled_for<Handlers, Session>()) {
            if constexpr (!std::is_void_v<Session>)
              if (s && !detail::offered_to<Handlers>(*s)) return;
            constexpr auto f = detail::feature_of<Handlers>();
            if constexpr (!f.empty()) out.push_back(f);
            if constexpr (requires { typename Handlers::sub_commands; })
              Handlers::sub_commands::template add_features<Session>(out, s);
          }
        }(),
        ...);
  }

  /// The syntax line of `verb` (what `HELP VERB` shows), if the table has it.
  template <class Session = void>
  static std::optional<std::string_view> syntax(std::string_view verb) {
    std::optional<std::string_view> out;
    (void)((detail::enabled_for<Handlers, Session>() && std::string_view(Handlers::verb) == verb
                ? (out = detail::syntax_of<Handlers>(), true)
                : false) ||
           ...);
    return out;
  }

  /// What `verb` does when it arrives during a transfer (`later` for a verb not here).
  template <class Session = void>
  static while_transferring during_transfer(std::string_view verb) {
    auto w = while_transferring::later;
    (void)((detail::enabled_for<Handlers, Session>() && std::string_view(Handlers::verb) == verb
                ? (w = detail::during_transfer_of<Handlers>(), true)
                : false) ||
           ...);
    return w;
  }

  /// True when observers must not see `verb`'s argument (PASS).
  template <class Session = void>
  static bool secret_argument(std::string_view verb) {
    return ((detail::enabled_for<Handlers, Session>() && std::string_view(Handlers::verb) == verb &&
             detail::secret_argument_of<Handlers>()) ||
            ...);
  }

  /// The verb that `verb` must immediately follow, or "" (RNTO: "RNFR").
  template <class Session = void>
  static std::string_view follows(std::string_view verb) {
    std::string_view f;
    (void)((detail::enabled_for<Handlers, Session>() && std::string_view(Handlers::verb) == verb
                ? (f = detail::follows_of<Handlers>(), true)
                : false) ||
           ...);
    return f;
  }

  /// The answer of a `while_transferring::answer` command sent during a transfer, or
  /// nullopt (it waits for the transfer's end like any other).
  template <class Session>
  static std::optional<reply> answer_during_transfer(Session& s, const command& cmd) {
    std::optional<reply> out;
    (void)(answer_one<Handlers>(s, cmd, out) || ...);
    return out;
  }

  /// Runs the handler of `cmd.verb` behind its guards; 500/502 when there is none.
  /// No allocation beyond the handler's own coroutine frame.
  template <class Session>
  static asio::awaitable<reply> dispatch(Session& s, const command& cmd) {
    std::optional<asio::awaitable<reply>> call;
    (void)(try_handler<Handlers>(s, cmd, call) || ...);
    if (call) return std::move(*call);
    return detail::unknown_command(cmd);
  }

 private:
  static std::vector<std::string_view> sorted(std::vector<std::string_view> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }

  template <class H, class Session>
  static bool answer_one(Session& s, const command& cmd, std::optional<reply>& out) {
    if constexpr (detail::enabled_for<H, Session>() && requires { H::answer_during_transfer(s, cmd.argument); }) {
      if (std::string_view(H::verb) == cmd.verb) {
        if (detail::offered_to<H>(s)) out = H::answer_during_transfer(s, std::string_view(cmd.argument));
        return true;
      }
    }
    return false;
  }

  // A disabled handler is never instantiated for Session (its body may not compile).
  template <class H, class Session>
  static bool try_handler(Session& s, const command& cmd, std::optional<asio::awaitable<reply>>& call) {
    if constexpr (detail::enabled_for<H, Session>()) {
      if (std::string_view(H::verb) == cmd.verb) {
        if (detail::offered_to<H>(s)) call.emplace(detail::guarded_run<H>(s, cmd));
        else call.emplace(detail::unknown_command(cmd));  // a known verb: 502
        return true;
      }
    }
    return false;
  }
};

}  // namespace coftp
