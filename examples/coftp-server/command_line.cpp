// coftp-server's configuration: the CLI11 set-up of every option (settings.hpp), by
// topic; the environment and the config file; the checks of what CLI11 does not check.
#include "command_line.hpp"

#include "startup_error.hpp"

#include <coftp/access_control.hpp>
#include <coftp/config.hpp>
#if COFTP_HAS_TLS
#include <coftp/tls.hpp>
#endif

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace coftp_server {
namespace {

// The topics of --help, and the sections of --print-config, in this order.
constexpr const char* network = "Network";
constexpr const char* users_group = "Users";
constexpr const char* tls_group = "TLS";
constexpr const char* limits = "Limits";
constexpr const char* logging = "Logging";
constexpr const char* storage = "Storage";
constexpr const char* operations = "Operations";

// The variable of option "--max-sessions": COFTP_MAX_SESSIONS.
std::string env_name(std::string_view long_name) {
  std::string v = "COFTP_";
  for (char c : long_name) v += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return v;
}

bool env_set(std::string_view long_name) {
  const char* v = std::getenv(env_name(long_name).c_str());
  return v != nullptr && *v != '\0';
}

// CLI11's TOML reader, but a key whose variable is set gives way to the variable:
// CLI11 reads the file first and the environment only for what is still unset, which
// would put the file over the environment.
class config_format : public CLI::ConfigTOML {
 public:
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    auto items = CLI::ConfigTOML::from_config(input);
    std::erase_if(items, [](const CLI::ConfigItem& i) { return i.parents.empty() && env_set(i.name); });
    return items;
  }
};

// Every option, into `s`. Long names only: they are the config file's keys and, in
// capitals with '_', the variables' names.
void define_options(CLI::App& app, settings& s) {
  auto& opts = s.server;
  app.name("coftp-server");
  app.set_help_flag();  // made again below, so that --help lists the topics in order

  // Network.
  app.add_option("--host", opts.host, "Address to listen on")->capture_default_str()->group(network);
  app.add_option("--port", opts.port, "Port to listen on (0 picks a free one)")->capture_default_str()->group(network);
  app.add_option("--pasv-ports", s.pasv_ports, "Passive port range MIN-MAX (default: any free port)")->group(network);
  app.add_option("--pasv-address", opts.passive_address, "IPv4 address announced in PASV replies (NAT)")
      ->group(network);
  app.add_flag("--no-active", s.no_active, "Refuse active mode (PORT and EPRT); passive only")->group(network);
  app.add_option("--allow", opts.allow, "Only these client addresses (CIDR: 10.0.0.0/8, ::1; repeatable)")
      ->delimiter(',')
      ->group(network);
  app.add_option("--deny", opts.deny, "Refuse these client addresses with 421 (CIDR; repeatable; wins over --allow)")
      ->delimiter(',')
      ->group(network);
  app.add_option("--proxy-protocol-from", opts.proxy_protocol_from,
                 "Trusted proxies (CIDR; repeatable or comma-separated): their connections must begin with a PROXY "
                 "protocol v1/v2 header (HAProxy send-proxy[-v2]) naming the real client, used for limits, bans, "
                 "the data-connection check and logs; a connection without a valid header is closed. Other "
                 "addresses are served as direct clients")
      ->delimiter(',')
      ->group(network);
  app.add_option("--proxy-protocol-timeout", s.proxy_timeout, "Milliseconds to wait for a trusted proxy's PROXY header")
      ->check(CLI::Range(1L, 60000L))
      ->capture_default_str()
      ->group(network);
  app.add_option("--virtual-host", s.virtual_hosts,
                 "NAME=ROOT[,USERS_FILE]: RFC 7151 HOST NAME serves ROOT (a directory, created if missing; with "
                 "--s3-endpoint a key prefix in the bucket) to the users of USERS_FILE (a --passwd file; default: "
                 "the same users as --root). Repeatable. Once any is given, HOST of another name gets 504; clients "
                 "sending no HOST get --root")
      ->group(network);

  // Users.
  app.add_option("--user", s.users, "A read-write user NAME:PASSWORD rooted at --root (repeatable)")
      ->group(users_group);
  app.add_option("--passwd", s.passwd,
                 "Users from FILE, one a line: name:hash:home:permissions (hash from --hash-password; "
                 "permissions: read,list,write,delete,rename,mkdir,rmdir,site or all, ro, none)")
      ->check(CLI::ExistingFile)
      ->group(users_group);
  app.add_flag("--anonymous", s.anonymous, "Also allow anonymous read-only logins (default when no --user or --passwd)")
      ->group(users_group);
  app.add_flag("--hash-password", s.hash_only,
               "Read a password (one line) on stdin, print its crypt(3) hash for a --passwd file, and exit")
      ->configurable(false)
      ->group(users_group);
  app.add_option("--hash-method", s.hash_method, "Method of --hash-password")
      ->check(CLI::IsMember({"yescrypt", "sha512"}))
      ->capture_default_str()
      ->group(users_group);

  // TLS.
  auto& tls = opts.tls;
  app.add_option("--tls-cert", tls.certificate_file, "PEM certificate chain: offers FTPS (AUTH TLS)")
                   ->check(CLI::ExistingFile)
                   ->group(tls_group);
  app.add_option("--tls-key", tls.private_key_file, "PEM private key (default: in --tls-cert)")
      ->check(CLI::ExistingFile)
      ->group(tls_group);
  app.add_flag("--tls-required", tls.required, "Refuse USER/PASS before AUTH TLS and data without PROT P")
      ->group(tls_group);
  app.add_option("--implicit-tls-port", s.implicit_port, "Also serve implicit FTPS on this port (e.g. 990)")
      ->group(tls_group);
  app.add_flag("--tls-detect", tls.detect_on_control_port,
               "Serve implicit FTPS, explicit FTPS and plain FTP on --port (TLS ClientHello detection)")
      ->group(tls_group);
  app.add_flag("--tls-no-session-reuse", s.no_reuse,
               "Accept PROT P data connections that do not resume the control TLS session (unsafe; for "
               "clients such as Python's ftplib)")
      ->group(tls_group);
  app.add_flag("--tls-strict-close", tls.require_close_notify,
               "Refuse uploads whose TLS stream ends without close_notify")
      ->group(tls_group);

  // Limits.
  app.add_option("--threads", s.threads, "Threads running the sessions (one io_context each; 0: one per core)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--idle-timeout", s.idle, "Seconds before an idle session is closed")
      ->check(CLI::Range(1L, 86400L))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--max-sessions", opts.max_sessions, "Maximum concurrent sessions")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--max-sessions-per-address", opts.max_sessions_per_address,
                 "Maximum concurrent sessions from one client address")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10000000}))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--max-rate", s.max_rate,
                 "Bandwidth of each session's file transfers, bytes/s each way (suffixes K, M, G: 1024-based; 0: "
                 "unlimited)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--max-user-rate", s.max_user_rate,
                 "Bandwidth of all the sessions of one user together, bytes/s each way (K, M, G; 0: unlimited)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--login-timeout", s.login_timeout, "Seconds from connect to a successful login, else 421")
      ->check(CLI::Range(1L, 86400L))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--login-failure-delay", s.failure_delay, "Milliseconds before each 530 for a failed login")
      ->check(CLI::Range(0L, 60000L))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--max-login-failures", opts.max_login_failures,
                 "Failed logins per connection, then it is closed (0: no limit)")
      ->capture_default_str()
      ->group(limits);
  app.add_option("--ban-after", opts.ban_after,
                 "Failed logins from one address within --ban-window that ban it (0: never ban)")
      ->capture_default_str()
      ->group(limits);
  app.add_option("--ban-window", s.ban_window, "Seconds in which --ban-after failures ban an address")
      ->check(CLI::Range(1L, 86400L * 30))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--ban-time", s.ban_time, "Seconds a banned address is refused with 421")
      ->check(CLI::Range(1L, 86400L * 30))
      ->capture_default_str()
      ->group(limits);
  app.add_option("--upload-end-wait", s.upload_end_wait,
                 "Microseconds an ended upload waits for a sign that its client died before it is kept "
                 "(over a network, its jitter; 0: only what has arrived)")
      ->check(CLI::Range(0L, 10000000L))
      ->capture_default_str()
      ->group(limits);

  // Logging.
  app.add_flag("--quiet", s.quiet, "No session log")->group(logging);
  app.add_option("--log", s.log_path, "Append the session log to FILE instead of standard error")->group(logging);
  app.add_option("--log-format", s.log_format, "Session log lines: text, or json (one JSON object a line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str()
      ->group(logging);
  app.add_option("--xferlog", s.xferlog_path, "Append one line per upload and download to FILE (xferlog(5) format)")
      ->group(logging);

  // Storage.
  app.add_option("--root", s.root, "Directory to serve (created if missing)")->capture_default_str()->group(storage);
#if COFTP_EXAMPLE_S3
  auto& s3 = s.s3;
  app.add_option("--s3-endpoint", s.s3_endpoint,
                                 "Serve an S3 bucket instead of --root: the store's URL (http://127.0.0.1:7480, "
                                 "https://s3.eu-west-1.amazonaws.com); keys from AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY, or --s3-credentials")
                      ->group(storage);
  app.add_option("--s3-bucket", s3.bucket, "The bucket (path-style addressing)")->group(storage);
  app.add_option("--s3-prefix", s3.prefix, "Key prefix under which the served tree lies (e.g. site1/)")
      ->group(storage);
  app.add_option("--s3-region", s3.region, "Region of the request signatures")
      ->capture_default_str()
      ->group(storage);
  app.add_option("--s3-credentials", s.s3_credentials_file,
                 "Keys from FILE in the AWS shared-credentials format ([default] aws_access_key_id = ..., "
                 "aws_secret_access_key = ...) instead of the environment")
      ->check(CLI::ExistingFile)
      ->group(storage);
  app.add_option("--s3-part-size", s.s3_part_size, "Part size of multipart uploads (K, M suffixes; S3 wants >= 5M)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str()
      ->group(storage);
  app.add_option("--s3-parts-in-flight", s3.parts_in_flight, "Parts of one upload sent at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str()
      ->group(storage);
#endif

  // Operations.
  app.set_help_flag("-h,--help", "Print this help and exit")->group(operations);
  app.set_version_flag("--version", "coftp-server " COFTP_VERSION, "Print the version and exit")->group(operations);
  app.set_config("--config", "",
                 "Read options from FILE (TOML or INI: key = value, keys the long flag names, lists as "
                 "[\"a\", \"b\"]); the environment (COFTP_<NAME>) and the command line win over it")
      ->group(operations);
  app.config_formatter(std::make_shared<config_format>());
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--run-as", s.run_as, "Started as root: bind the ports, then drop to USER's uid, gid and groups")
      ->group(operations);
  app.add_flag("--allow-root", s.allow_root, "Serve as root (without --run-as); refused otherwise")->group(operations);
  app.add_option("--shutdown-grace", s.grace,
                 "Seconds SIGTERM/SIGINT lets running transfers finish before they are cut (a second signal cuts "
                 "them at once)")
      ->check(CLI::Range(0L, 86400L))
      ->capture_default_str()
      ->group(operations);
  app.add_option("--metrics-address", s.metrics_address,
                 "Serve Prometheus metrics (GET /metrics) and a health check (GET /healthz) over HTTP on "
                 "HOST:PORT (e.g. 127.0.0.1:9121; port 0 picks one; default: off)")
      ->group(operations);
  app.add_flag("--check-config", s.check_only,
               "Load and check every setting (users files, certificates, address lists, the root, S3), print "
               "what is wrong, and exit 0 or 2 without serving")
      ->configurable(false)
      ->group(operations);
  app.add_flag("--print-config", s.print_only,
               "Print the effective configuration as a config file (passwords masked) and exit")
      ->configurable(false)
      ->group(operations);
  // Tests only (hidden from --help): uploads into named temporary files, as on a file
  // system without O_TMPFILE, so that their handling (hidden, removed at start) is tested.
  app.add_flag("--test-named-temp-files", s.named_temp_files, "Upload into named temporary files (tests only)")
      ->group("");

  // Every option can come from the environment: --max-sessions from COFTP_MAX_SESSIONS.
  for (auto* o : app.get_options()) {
    if (o->get_configurable() && !o->get_lnames().empty() && o->get_group() != operations)
      o->envname(env_name(o->get_lnames().front()));
  }
  for (const char* name : {"--run-as", "--allow-root", "--shutdown-grace", "--metrics-address"})
    app.get_option(name)->envname(env_name(name + 2));
}

// Puts the parsed durations, rates and TLS flags into s.server.
void finish(const CLI::App& app, settings& s) {
  auto& opts = s.server;
  auto& tls = opts.tls;
  if (s.threads == 0) s.threads = std::max(1u, std::thread::hardware_concurrency());
  opts.idle_timeout = std::chrono::seconds(s.idle);
  opts.session_rate = {s.max_rate, s.max_rate};
  opts.user_rate = {s.max_user_rate, s.max_user_rate};
  tls.implicit_port.reset();
  if (app.count("--implicit-tls-port") > 0) tls.implicit_port = s.implicit_port;
  tls.require_session_reuse = !s.no_reuse;
  opts.login_timeout = std::chrono::seconds(s.login_timeout);
  opts.login_failure_delay = std::chrono::milliseconds(s.failure_delay);
  opts.upload_end_wait = std::chrono::microseconds(s.upload_end_wait);
  opts.ban_window = std::chrono::seconds(s.ban_window);
  opts.ban_time = std::chrono::seconds(s.ban_time);
  opts.proxy_protocol_timeout = std::chrono::milliseconds(s.proxy_timeout);
  opts.shutdown_grace = std::chrono::seconds(s.grace);
  opts.active_mode = !s.no_active;
  if (auto* c = app.get_option_no_throw("--config"); c && c->count() > 0) s.config_file = c->as<std::string>();
}

// The line of `file` that sets `key` (1-based), or 0.
std::size_t line_of(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line.compare(start, key.size(), key) != 0) continue;
    auto rest = line.find_first_not_of(" \t", start + key.size());
    if (rest != std::string::npos && (line[rest] == '=' || line[rest] == ':')) return n;
  }
  return 0;
}

// Runs `value` through option `name`'s checks and conversions alone, on a scratch app;
// the reason it is refused, or "".
std::string refused_value(const std::string& name, const CLI::ConfigItem& item) {
  settings scratch;
  CLI::App app;
  define_options(app, scratch);
  auto* o = app.get_option_no_throw("--" + name);
  if (!o) return "unknown key (the keys are the long option names of --help, without the dashes)";
  if (!o->get_configurable()) return "not allowed in a config file";
  try {
    if (o->get_expected_min() == 0) {
      o->add_result(o->get_flag_value(item.name, app.get_config_formatter()->to_flag(item)));
    } else {
      o->add_result(item.inputs);
    }
    o->run_callback();
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

// Where CLI11's `e` comes from: a key of the config file (FILE:LINE: key 'K': why), a
// variable (environment COFTP_X: why), or the command line (CLI11's text).
std::string locate(const std::string& file, const CLI::ParseError& e) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (in) {
      for (const auto& item : config_format().from_config(in)) {
        std::string key = item.fullname();
        std::string why = item.parents.empty() ? refused_value(item.name, item) : "unknown key (no sections)";
        if (!why.empty()) return file + ":" + std::to_string(line_of(file, key)) + ": key '" + key + "': " + why;
      }
    }
  }
  settings scratch;
  CLI::App app;
  define_options(app, scratch);
  for (const auto* o : app.get_options()) {
    if (o->get_envname().empty()) continue;
    const char* v = std::getenv(o->get_envname().c_str());
    if (!v || !*v) continue;
    CLI::ConfigItem item;
    item.name = o->get_lnames().front();
    item.inputs = {v};
    if (auto why = refused_value(item.name, item); !why.empty())
      return "environment " + o->get_envname() + ": " + why;
  }
  return (file.empty() ? std::string() : file + ": ") + e.what();
}

// A value as TOML writes it: a number or a boolean bare, else a quoted string.
std::string toml_value(const std::string& v, bool flag) {
  if (flag) return v == "1" || v == "true" ? "true" : "false";
  if (!v.empty() && v.size() < 19 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + '"';
}

// `text` as comment lines of at most about 90 columns.
std::string comment(const std::string& text) {
  std::string out, line = "#";
  std::istringstream words(text);
  for (std::string w; words >> w;) {
    if (line.size() + 1 + w.size() > 90 && line != "#") {
      out += line + "\n";
      line = "#";
    }
    line += " " + w;
  }
  return out + line + "\n";
}

// --print-config: every configurable option by topic, its help as a comment, its
// value (or its default); one with no value commented out. Passwords masked.
std::string config_text(const CLI::App& app) {
  std::ostringstream out;
  out << "# coftp-server " COFTP_VERSION " configuration (coftp-server --config FILE).\n"
      << "# Keys are the long option names of --help; COFTP_<NAME> variables and the command line\n"
      << "# win over this file. A line starting with '#' is a comment.\n";
  for (const char* group : {network, users_group, tls_group, limits, logging, storage, operations}) {
    bool any = false;
    for (const auto* o : app.get_options()) {
      if (o->get_group() != group || !o->get_configurable() || o->get_lnames().empty()) continue;
      if (!any) out << "\n# ---- " << group << " ----\n";
      any = true;
      const auto& name = o->get_lnames().front();
      out << "\n" << comment(o->get_description());
      bool flag = o->get_expected_min() == 0;
      auto values = o->reduced_results();
      if (name == "user") {
        for (auto& v : values) v = v.substr(0, v.find(':')) + ":****";
      }
      bool list = o->get_expected_max() > 1;
      if (values.empty()) {
        std::string d = flag ? "false" : o->get_default_str();
        bool shown = flag || !d.empty();
        out << (shown ? "" : "# ") << name << " = " << (list ? "[]" : toml_value(d, flag)) << "\n";
        continue;
      }
      out << name << " = ";
      if (list) {
        out << "[";
        for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << toml_value(values[i], false);
        out << "]\n";
      } else {
        out << toml_value(values.back(), flag) << "\n";
      }
    }
  }
  return out.str();
}

// The arguments with --config FILE added from COFTP_CONFIG, when not given.
std::vector<std::string> with_config_from_env(std::vector<std::string> args) {
  const char* from_env = std::getenv("COFTP_CONFIG");
  bool given = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--config", 0) == 0; });
  if (from_env && *from_env && !given) {
    args.emplace_back("--config");
    args.emplace_back(from_env);
  }
  return args;
}

// Parses `args` (argv without the program name) into a new `s`; throws CLI11's errors.
void parse_into(CLI::App& app, settings& s, std::vector<std::string> args) {
  define_options(app, s);
  args = with_config_from_env(std::move(args));
  std::reverse(args.begin(), args.end());  // CLI11's vector form wants them last first
  app.parse(args);
  finish(app, s);
}

// The config file named in `args` (after COFTP_CONFIG), or "".
std::string config_named(const std::vector<std::string>& args) {
  auto all = with_config_from_env(args);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--config" && i + 1 < all.size()) return all[i + 1];
    if (all[i].rfind("--config=", 0) == 0) return all[i].substr(9);
  }
  return "";
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, settings& s) {
  CLI::App app{"coftp-server " COFTP_VERSION ": an FTP server serving one directory.\n"
               "Without --user or --passwd it serves anonymous read-only access."};
  s.args.assign(argv + 1, argv + argc);
  try {
    parse_into(app, s, s.args);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    std::cerr << "coftp-server: " << locate(config_named(s.args), e) << "\n";
    return 2;
  }
  if (s.print_only) {
    std::cout << config_text(app);
    return 0;
  }
  return std::nullopt;
}

settings parse_again(const settings& started) {
  settings s;
  CLI::App app;
  try {
    parse_into(app, s, started.args);
  } catch (const CLI::ParseError& e) {
    throw startup_error(locate(config_named(started.args), e));
  }
  s.args = started.args;
  return s;
}

void check_flags(settings& s) {
  auto& opts = s.server;
  // Checked here rather than by CLI11's needs(): a config file may well say
  // "tls-required = false" without a certificate, and --print-config writes every key.
  const auto& tls = opts.tls;
  if (!tls.enabled() && (tls.required || tls.implicit_port || tls.detect_on_control_port || s.no_reuse ||
                         tls.require_close_notify || !tls.private_key_file.empty()))
    throw startup_error(
        "--tls-key, --tls-required, --implicit-tls-port, --tls-detect, --tls-no-session-reuse and "
        "--tls-strict-close need --tls-cert");
  for (const auto* list : {&opts.allow, &opts.deny, &opts.proxy_protocol_from}) {
    for (const auto& rule : *list) {
      if (auto ec = coftp::cidr::parse(rule).first) {
        throw startup_error(
            std::string(list == &opts.allow ? "--allow" : list == &opts.deny ? "--deny" : "--proxy-protocol-from") +
            ": '" + rule + "': " + ec.message() + " (expected ADDRESS or ADDRESS/PREFIX, e.g. 10.0.0.0/8 or ::1)");
      }
    }
  }
  if (!s.pasv_ports.empty()) {
    unsigned lo = 0, hi = 0;
    char dash = 0;
    if (std::sscanf(s.pasv_ports.c_str(), "%u%c%u", &lo, &dash, &hi) != 3 || dash != '-' || lo == 0 || hi < lo ||
        hi > 65535)
      throw startup_error("--pasv-ports: expected MIN-MAX, e.g. 50000-50100");
    opts.passive_port_min = static_cast<std::uint16_t>(lo);
    opts.passive_port_max = static_cast<std::uint16_t>(hi);
  }

#if COFTP_EXAMPLE_S3
  if (s.s3_endpoint.empty() && (!s.s3.bucket.empty() || !s.s3.prefix.empty() || !s.s3_credentials_file.empty()))
    throw startup_error("--s3-bucket, --s3-prefix and --s3-credentials need --s3-endpoint");
  if (!s.s3_endpoint.empty()) {
    s.s3.endpoint = s.s3_endpoint;
    s.s3.part_size = s.s3_part_size;
    auto cred = s.s3_credentials_file.empty() ? coftp::s3_credentials_from_env()
                                              : coftp::s3_credentials_from_file(s.s3_credentials_file);
    if (!cred)
      throw startup_error(
          "--s3-endpoint: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
          "--s3-credentials FILE (never on the command line)");
    if (s.s3.bucket.empty()) throw startup_error("--s3-endpoint: --s3-bucket is required");
    s.s3.credentials = *cred;
  }
#endif
}

void check_resources(const settings& s) {
  const auto& tls = s.server.tls;
  if (tls.enabled()) {
#if COFTP_HAS_TLS
    try {
      (void)coftp::make_tls_context(tls);
    } catch (const std::exception& e) {
      throw startup_error("--tls-cert/--tls-key: " + std::string(e.what()));
    }
#else
    throw startup_error("--tls-cert: this coftp-server is built without TLS");
#endif
  }
  namespace fs = std::filesystem;
  auto directory_or_makeable = [](const std::string& dir, const std::string& what) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    if (fs::exists(dir, ec)) throw startup_error(what + ": '" + dir + "' is not a directory");
    auto parent = fs::absolute(dir, ec).parent_path();
    while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.parent_path()) parent = parent.parent_path();
    if (!fs::is_directory(parent, ec))
      throw startup_error(what + ": '" + dir + "' cannot be made (" + parent.string() + " is no directory)");
  };
#if COFTP_EXAMPLE_S3
  if (!s.s3_endpoint.empty()) return;  // a bucket: the store is asked at the first request
#endif
  directory_or_makeable(s.root, "--root");
}

}  // namespace coftp_server
