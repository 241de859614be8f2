// coftp/metrics.hpp - Prometheus metrics from the observer events: `metrics_registry`
// counts, `metrics_observer` feeds it, `render()` writes the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// The registry is thread-safe (atomics; a mutex for the command latency's per-session
// start times): one registry serves every session of every thread, and copies of a
// metrics_observer share it. Every label set is bounded: verbs outside the registry's
// list count as "other", reply codes outside 100-599 as "other", the rest are enums. The
// registry renders itself and any `add_source` callbacks (an s3_storage's requests, say);
// metrics_http.hpp serves the text over HTTP.
#pragma once

#include <coftp/command.hpp>
#include <coftp/error.hpp>
#include <coftp/observer.hpp>
#include <coftp/outcome.hpp>
#include <coftp/reply.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace coftp {

/// One label of a sample: name and value (the value is escaped when written).
using metric_label = std::pair<std::string_view, std::string_view>;

/// Writes metric families in the Prometheus text format 0.0.4 to a string: a family's
/// `# HELP` and `# TYPE` lines, then its samples. Names are written as given (they must
/// match `[a-zA-Z_:][a-zA-Z0-9_:]*`, counters end in `_total`); label values and help
/// texts are escaped. A family must be written once, with all its samples together.
class metrics_writer {
 public:
  explicit metrics_writer(std::string& out) : out_(out) {}

  /// Opens a family: `type` is "counter", "gauge", "histogram" or "untyped".
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
      if (c == '\\') out_ += "\\\\";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  /// One sample with an integer value.
  void sample(std::string_view name, std::initializer_list<metric_label> labels, std::uint64_t value) {
    start(name, labels);
    out_ += std::to_string(value);
    out_ += '\n';
  }
  void sample(std::string_view name, std::initializer_list<metric_label> labels, std::int64_t value) {
    start(name, labels);
    out_ += std::to_string(value);
    out_ += '\n';
  }
  /// One sample with a floating-point value (17 significant digits: exact for a double).
  void sample(std::string_view name, std::initializer_list<metric_label> labels, double value) {
    start(name, labels);
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.17g", value);
    out_.append(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    out_ += '\n';
  }

  /// A label value as the format wants it: backslash, double quote and line feed escaped.
  static void escape_label_value(std::string& out, std::string_view v) {
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out += c;
    }
  }

 private:
  void start(std::string_view name, std::initializer_list<metric_label> labels) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        escape_label_value(out_, v);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
  }

  std::string& out_;
};

/// The counters of a server (or several sharing it), rendered as Prometheus metrics.
/// Fed by `metrics_observer`; the embedding program adds what only it knows: reloads
/// (`record_reload`), draining (`set_draining`, for a health check) and sources of its
/// own (`add_source`). Thread-safe; not copyable (share it by pointer).
///
/// @par Example
/// @code
/// auto metrics = std::make_shared<coftp::metrics_registry>();
/// struct policies : coftp::default_policies { using observer = coftp::metrics_observer; };
/// coftp::basic_server<policies> server{io, options, storage, users, coftp::metrics_observer(metrics)};
/// std::string text = metrics->render();   // GET /metrics
/// @endcode
class metrics_registry {
 public:
  /// The verbs counted by name: RFC 959 and its extensions, and the X verbs clients send.
  static constexpr std::array<std::string_view, 67> default_verbs = {
      "ABOR", "ACCT", "ADAT", "ALLO", "APPE", "AUTH", "AVBL", "CCC",   "CDUP",  "CLNT", "CONF", "CSID",
      "CWD",  "DELE", "DSIZ", "ENC",  "EPRT", "EPSV", "FEAT", "HASH",  "HELP",  "HOST", "LANG", "LIST",
      "LPRT", "LPSV", "MDTM", "MFCT", "MFF",  "MFMT", "MIC",  "MKD",   "MLSD",  "MLST", "MODE", "NLST",
      "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT", "PROT", "PWD",   "QUIT",  "REIN", "REST", "RETR",
      "RMD",  "RNFR", "RNTO", "SITE", "SIZE", "SMNT", "STAT", "STOR",  "STOU",  "STRU", "SYST", "TYPE",
      "USER", "XCRC", "XCUP", "XCWD", "XMD5", "XMKD", "XPWD"};

  /// Upper bounds of the command latency buckets, in seconds (+Inf follows).
  static constexpr std::array<double, 13> latency_buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,  0.5,    1,     2.5,  5,    10};

  /// `extra_verbs`: verbs of the program's own commands, counted by name too (they must
  /// be verbs as `valid_verb` says; others are ignored). Every other verb is "other".
  explicit metrics_registry(std::initializer_list<std::string_view> extra_verbs = {})
      : started_(std::chrono::system_clock::now()) {
    verbs_.assign(default_verbs.begin(), default_verbs.end());
    for (auto v : extra_verbs)
      if (valid_verb(v)) verbs_.emplace_back(v);
    std::sort(verbs_.begin(), verbs_.end());
    verbs_.erase(std::unique(verbs_.begin(), verbs_.end()), verbs_.end());
    verb_counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(verbs_.size() + 1);
  }

  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  // ---- what the embedding program tells -------------------------------------------------

  /// A configuration reload was tried (SIGHUP, say): counted by result, and the last one's
  /// result kept as `coftp_config_last_reload_successful`.
  void record_reload(bool ok) noexcept {
    ++reloads_[ok ? 0 : 1];
    last_reload_ok_ = ok;
  }

  /// Draining: the server stops taking sessions (a stop began); `/healthz` says 503.
  void set_draining(bool on) noexcept { draining_ = on; }
  bool draining() const noexcept { return draining_; }

  /// Adds a callback that writes families of its own at the end of each `render()` (from
  /// the thread that renders; it must be thread-safe and must not call `render()`).
  void add_source(std::function<void(metrics_writer&)> source) {
    std::lock_guard lock(sources_mutex_);
    sources_.push_back(std::move(source));
  }

  // ---- the events (metrics_observer calls these) --------------------------------------------

  void connected() noexcept {
    ++sessions_;
    ++sessions_open_;
  }
  void disconnected(std::uint64_t session) {
    --sessions_open_;
    std::lock_guard lock(pending_mutex_);
    pending_.erase(session);
  }
  void command_started(std::uint64_t session, std::string_view verb) {
    ++verb_counts_[verb_index(verb)];
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(pending_mutex_);
    pending_.insert_or_assign(session, now);
  }
  void replied(std::uint64_t session, int code) {
    ++replies_[code >= 100 && code <= 599 ? code - 100 : 500];
    std::chrono::steady_clock::time_point began;
    {
      std::lock_guard lock(pending_mutex_);
      auto it = pending_.find(session);
      if (it == pending_.end()) return;  // a reply to no command: the greeting, a timeout's 421
      began = it->second;
      pending_.erase(it);
    }
    observe_latency(std::chrono::steady_clock::now() - began);
  }
  void login(bool ok) noexcept { ++logins_[ok ? 0 : 1]; }
  void refused(refusal why) noexcept { ++refusals_[index(why, refusals_.size())]; }
  void banned() noexcept { ++bans_; }
  void transferred(const transfer_event& t) noexcept {
    auto d = index(t.direction, directions.size());
    ++transfers_[d * outcomes.size() + index(t.outcome, outcomes.size())];
    bytes_[d] += t.bytes;
  }
  void data_connection_failed(data_failure why) noexcept { ++data_failures_[index(why, data_failures.size())]; }
  void tls_handshake(tls_channel channel, std::error_code ec) noexcept {
    std::size_t result = !ec ? 0 : ec == error::tls_not_resumed ? 2 : 1;
    ++tls_[index(channel, tls_channels.size()) * tls_results.size() + result];
  }
  void storage_failed(std::error_code ec) noexcept {
    auto kind = static_cast<std::size_t>(classify(ec));  // storage_errc starts at 1
    ++storage_errors_[kind >= 1 && kind <= storage_kinds.size() ? kind - 1 : storage_kinds.size() - 1];
  }

  // ---- the text -------------------------------------------------------------------------------

  /// Every metric, in the Prometheus text format 0.0.4 (Content-Type
  /// `text/plain; version=0.0.4`), then the sources' families.
  std::string render() const {
    std::string out;
    out.reserve(8192);
    metrics_writer w(out);
    w.family("coftp_sessions_open", "gauge", "Control connections open now.");
    w.sample("coftp_sessions_open", {}, sessions_open_.load());
    w.family("coftp_sessions_total", "counter", "Control connections served since start (refusals at connect excluded).");
    w.sample("coftp_sessions_total", {}, sessions_.load());

    w.family("coftp_logins_total", "counter", "Login attempts (PASS) by result.");
    w.sample("coftp_logins_total", {{"result", "ok"}}, logins_[0].load());
    w.sample("coftp_logins_total", {{"result", "failed"}}, logins_[1].load());
    w.family("coftp_refusals_total", "counter", "Connections and logins refused with 421, by reason.");
    for (std::size_t i = 0; i < refusals.size(); ++i)
      w.sample("coftp_refusals_total", {{"reason", refusals[i]}}, refusals_[i].load());
    w.family("coftp_bans_total", "counter", "Addresses banned after failed logins.");
    w.sample("coftp_bans_total", {}, bans_.load());

    w.family("coftp_commands_total", "counter", "Commands received, by verb (unlisted verbs as \"other\").");
    for (std::size_t i = 0; i <= verbs_.size(); ++i) {
      auto n = verb_counts_[i].load();
      if (n != 0) w.sample("coftp_commands_total", {{"verb", i < verbs_.size() ? verbs_[i] : "other"}}, n);
    }
    w.family("coftp_replies_total", "counter", "Replies sent, by code.");
    for (std::size_t i = 0; i < replies_.size(); ++i) {
      auto n = replies_[i].load();
      if (n == 0) continue;
      auto code = i < 500 ? std::to_string(i + 100) : std::string("other");
      w.sample("coftp_replies_total", {{"code", code}}, n);
    }
    render_latency(w);

    w.family("coftp_transfers_total", "counter", "Transfers (RETR, STOR, listings...) by direction and outcome.");
    for (std::size_t d = 0; d < directions.size(); ++d)
      for (std::size_t o = 0; o < outcomes.size(); ++o)
        w.sample("coftp_transfers_total", {{"direction", directions[d]}, {"outcome", outcomes[o]}},
                 transfers_[d * outcomes.size() + o].load());
    w.family("coftp_transfer_bytes_total", "counter",
             "Bytes moved on data connections, by direction (counted when each transfer ends).");
    for (std::size_t d = 0; d < directions.size(); ++d)
      w.sample("coftp_transfer_bytes_total", {{"direction", directions[d]}}, bytes_[d].load());
    w.family("coftp_data_connection_failures_total", "counter", "Data connections not made, by reason.");
    for (std::size_t i = 0; i < data_failures.size(); ++i)
      w.sample("coftp_data_connection_failures_total", {{"reason", data_failures[i]}}, data_failures_[i].load());
    w.family("coftp_tls_handshakes_total", "counter", "TLS handshakes on control and data connections, by result.");
    for (std::size_t c = 0; c < tls_channels.size(); ++c)
      for (std::size_t r = 0; r < tls_results.size(); ++r)
        w.sample("coftp_tls_handshakes_total", {{"channel", tls_channels[c]}, {"result", tls_results[r]}},
                 tls_[c * tls_results.size() + r].load());
    w.family("coftp_storage_errors_total", "counter", "Transfers the storage backend failed, by error kind.");
    for (std::size_t i = 0; i < storage_kinds.size(); ++i)
      w.sample("coftp_storage_errors_total", {{"kind", storage_kinds[i]}}, storage_errors_[i].load());

    w.family("coftp_config_reloads_total", "counter", "Configuration reloads, by result.");
    w.sample("coftp_config_reloads_total", {{"result", "ok"}}, reloads_[0].load());
    w.sample("coftp_config_reloads_total", {{"result", "failed"}}, reloads_[1].load());
    w.family("coftp_config_last_reload_successful", "gauge", "1 if the last reload succeeded (or none was tried).");
    w.sample("coftp_config_last_reload_successful", {}, std::uint64_t(last_reload_ok_.load() ? 1 : 0));
    w.family("coftp_draining", "gauge", "1 while the server drains (stops taking sessions).");
    w.sample("coftp_draining", {}, std::uint64_t(draining_.load() ? 1 : 0));
    w.family("coftp_start_time_seconds", "gauge", "When the metrics began, in seconds since the Unix epoch.");
    w.sample("coftp_start_time_seconds", {},
             std::chrono::duration<double>(started_.time_since_epoch()).count());

    std::lock_guard lock(sources_mutex_);
    for (const auto& s : sources_) s(w);
    return out;
  }

 private:
  static constexpr std::array<std::string_view, 5> refusals = {"denied", "banned", "too_many_sessions",
                                                               "out_of_descriptors", "bad_proxy_header"};
  static constexpr std::array<std::string_view, 3> directions = {"download", "upload", "listing"};
  static constexpr std::array<std::string_view, 5> outcomes = {"completed", "aborted", "connection_lost",
                                                               "timed_out", "storage_error"};
  static constexpr std::array<std::string_view, 3> data_failures = {"listen", "accept", "connect"};
  static constexpr std::array<std::string_view, 2> tls_channels = {"control", "data"};
  static constexpr std::array<std::string_view, 3> tls_results = {"ok", "failed", "not_resumed"};
  // In storage_errc order (from 1).
  static constexpr std::array<std::string_view, 11> storage_kinds = {
      "not_found",  "not_a_directory", "is_a_directory", "already_exists", "not_empty",       "permission_denied",
      "no_space",   "invalid_name",    "io_error",       "invalid_offset", "too_many_entries"};

  // An enum's index, clamped into a table of `size` (a value added to an enum later
  // lands on the last entry rather than outside the table).
  template <class E>
  static std::size_t index(E e, std::size_t size) noexcept {
    auto i = static_cast<std::size_t>(e);
    return i < size ? i : size - 1;
  }

  std::size_t verb_index(std::string_view verb) const noexcept {
    auto it = std::lower_bound(verbs_.begin(), verbs_.end(), verb);
    return it != verbs_.end() && *it == verb ? static_cast<std::size_t>(it - verbs_.begin()) : verbs_.size();
  }

  void observe_latency(std::chrono::steady_clock::duration d) noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (ns < 0) ns = 0;
    double seconds = static_cast<double>(ns) / 1e9;
    std::size_t b = 0;
    while (b < latency_buckets.size() && seconds > latency_buckets[b]) ++b;
    ++latency_counts_[b];  // per bucket; render() adds them up
    latency_ns_ += static_cast<std::uint64_t>(ns);
  }

  // _count is the +Inf bucket, both summed from the same reads: consistent under updates.
  void render_latency(metrics_writer& w) const {
    constexpr std::string_view name = "coftp_command_duration_seconds";
    w.family(name, "histogram", "Time from a command to its first reply.");
    static constexpr std::array<std::string_view, 13> les = {"0.001", "0.0025", "0.005", "0.01", "0.025",
                                                             "0.05",  "0.1",    "0.25",  "0.5",  "1",
                                                             "2.5",   "5",      "10"};
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < les.size(); ++b) {
      cumulative += latency_counts_[b].load();
      w.sample("coftp_command_duration_seconds_bucket", {{"le", les[b]}}, cumulative);
    }
    cumulative += latency_counts_[les.size()].load();
    w.sample("coftp_command_duration_seconds_bucket", {{"le", "+Inf"}}, cumulative);
    w.sample("coftp_command_duration_seconds_sum", {}, static_cast<double>(latency_ns_.load()) / 1e9);
    w.sample("coftp_command_duration_seconds_count", {}, cumulative);
  }

  using counter = std::atomic<std::uint64_t>;

  std::chrono::system_clock::time_point started_;
  std::vector<std::string> verbs_;                      // sorted; set once, then read only
  std::unique_ptr<counter[]> verb_counts_;              // one per verb, then "other"
  std::atomic<std::int64_t> sessions_open_{0};
  counter sessions_{0};
  std::array<counter, 2> logins_{};
  std::array<counter, refusals.size()> refusals_{};
  counter bans_{0};
  std::array<counter, 501> replies_{};  // 100-599, then "other"
  std::array<counter, latency_buckets.size() + 1> latency_counts_{};
  counter latency_ns_{0};
  std::array<counter, directions.size() * outcomes.size()> transfers_{};
  std::array<counter, directions.size()> bytes_{};
  std::array<counter, data_failures.size()> data_failures_{};
  std::array<counter, tls_channels.size() * tls_results.size()> tls_{};
  std::array<counter, storage_kinds.size()> storage_errors_{};
  std::array<counter, 2> reloads_{};
  std::atomic<bool> last_reload_ok_{true};
  std::atomic<bool> draining_{false};

  std::mutex pending_mutex_;
  std::unordered_map<std::uint64_t, std::chrono::steady_clock::time_point> pending_;  // session -> command start
  mutable std::mutex sources_mutex_;
  std::vector<std::function<void(metrics_writer&)>> sources_;
};

/// The observer that feeds a metrics_registry. Copies share the registry (the server
/// keeps a copy). Combine it with other observers with `observers<...>`.
class metrics_observer : public null_observer {
 public:
  /// With a registry of its own (reach it through `registry()`).
  metrics_observer() : registry_(std::make_shared<metrics_registry>()) {}
  explicit metrics_observer(std::shared_ptr<metrics_registry> registry) : registry_(std::move(registry)) {}

  metrics_registry& registry() const noexcept { return *registry_; }
  const std::shared_ptr<metrics_registry>& shared_registry() const noexcept { return registry_; }

  void on_connect(const session_info&) { registry_->connected(); }
  void on_command(const session_info& s, const command& c) { registry_->command_started(s.id, c.verb); }
  void on_reply(const session_info& s, const reply& r) { registry_->replied(s.id, r.code); }
  void on_login(const session_info&, std::string_view, bool ok) { registry_->login(ok); }
  void on_transfer(const session_info&, const transfer_event& t) { registry_->transferred(t); }
  void on_disconnect(const session_info& s) { registry_->disconnected(s.id); }
  void on_refused(const session_info&, refusal why) { registry_->refused(why); }
  void on_ban(const session_info&, std::chrono::milliseconds) { registry_->banned(); }
  void on_tls_handshake(const session_info&, tls_channel c, std::error_code ec) { registry_->tls_handshake(c, ec); }
  void on_data_connection_failed(const session_info&, data_failure why) { registry_->data_connection_failed(why); }
  void on_storage_error(const session_info&, std::error_code ec) { registry_->storage_failed(ec); }

 private:
  std::shared_ptr<metrics_registry> registry_;
};

/// A metrics_registry source for the request counts of an s3_storage (storage/s3.hpp):
/// `registry.add_source(s3_request_metrics(storage.request_stats()))`. Any `Stats`
/// with the same atomic members will do; this header does not need libcurl.
template <class Stats>
  requires requires(const Stats& s) {
    s.ok.load();
    s.client_error.load();
    s.server_error.load();
    s.transport_error.load();
    s.retries.load();
  }
std::function<void(metrics_writer&)> s3_request_metrics(std::shared_ptr<const Stats> stats) {
  return [stats = std::move(stats)](metrics_writer& w) {
    w.family("coftp_s3_requests_total", "counter", "HTTP requests to the S3 store (each attempt), by result.");
    w.sample("coftp_s3_requests_total", {{"result", "ok"}}, std::uint64_t(stats->ok.load()));
    w.sample("coftp_s3_requests_total", {{"result", "client_error"}}, std::uint64_t(stats->client_error.load()));
    w.sample("coftp_s3_requests_total", {{"result", "server_error"}}, std::uint64_t(stats->server_error.load()));
    w.sample("coftp_s3_requests_total", {{"result", "transport_error"}},
             std::uint64_t(stats->transport_error.load()));
    w.family("coftp_s3_retries_total", "counter", "S3 requests sent again after a failed attempt.");
    w.sample("coftp_s3_retries_total", {}, std::uint64_t(stats->retries.load()));
  };
}

}  // namespace coftp
