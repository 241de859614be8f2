// coftp/session_state.hpp - what an FTP dialogue remembers between commands: who is
// logged in (RFC 959 4.1.1), the working directory, the transfer parameters (TYPE, REST,
// EPSV ALL), FTPS's PBSZ and PROT (RFC 4217), the MLSx facts (RFC 3659), the first half
// of a command pair (USER then PASS, RNFR then RNTO) and the transfer counters.
//
// Plain values, no I/O: handlers read and set them through the session. `basic_session`
// derives from this class, and so can a test's fake session that runs handlers without
// sockets (see `handler_session` in handler_session.hpp).
#pragma once

#include <coftp/auth.hpp>
#include <coftp/listing.hpp>
#include <coftp/outcome.hpp>
#include <coftp/path.hpp>
#include <coftp/permissions.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace coftp {

/// What STAT reports about a session's transfers so far.
struct session_stats {
  std::uint64_t files_sent = 0, files_received = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;

  /// Counts a transfer that ended (a listing counts nothing).
  void count(transfer_direction d, const transfer_result& r) noexcept {
    if (d == transfer_direction::download) {
      bytes_sent += r.bytes;
      files_sent += r.ok() ? 1 : 0;
    } else if (d == transfer_direction::upload) {
      bytes_received += r.bytes;
      files_received += r.ok() ? 1 : 0;
    }
  }
};

/// The dialogue's state, as handlers see it.
class session_state {
 public:
  bool logged_in() const noexcept { return user_.has_value(); }
  /// The logged-in user (a read-only nobody before login).
  const coftp::user& user() const noexcept {
    static const coftp::user nobody{"", "/", permissions::none};
    return user_ ? *user_ : nobody;
  }
  /// The name USER gave, until PASS settles it.
  const std::optional<std::string>& pending_user() const noexcept {
    static const std::optional<std::string> none;
    return rare_ ? rare_->pending_user : none;
  }

  const std::string& cwd() const noexcept { return cwd_; }
  void set_cwd(std::string virtual_path) { cwd_ = std::move(virtual_path); }

  /// Resolves a client's path argument against the working directory and the user's
  /// home. Nullopt for arguments that are no path at all (NUL, CR, LF).
  std::optional<resolved_path> resolve(std::string_view arg) const {
    auto v = resolve_path(cwd_, arg);
    if (!v) return std::nullopt;
    auto s = join_under(user().home, *v);
    return resolved_path{std::move(*v), std::move(s)};
  }

  /// TYPE A (true, the default of RFC 959 3.1.1.1) or TYPE I.
  bool ascii() const noexcept { return ascii_; }
  void set_ascii(bool on) noexcept { ascii_ = on; }

  /// RNFR's source, dropped by any command but RNTO.
  std::optional<resolved_path>& rename_from() { return rare().rename_from; }

  /// REST (RFC 3659 5): the offset of the next transfer. `take_restart()` hands it to
  /// that transfer (or to a listing, which drops it) and resets it to 0.
  void set_restart(std::uint64_t offset) noexcept { restart_ = offset; }
  std::uint64_t restart() const noexcept { return restart_; }
  std::uint64_t take_restart() noexcept { return std::exchange(restart_, 0); }

  /// EPSV ALL (RFC 2428 4): from now on only EPSV may set up data connections.
  void set_epsv_all() noexcept { epsv_all_ = true; }
  bool epsv_all() const noexcept { return epsv_all_; }

  /// The MLSx facts selected by OPTS MLST (RFC 3659 7.9).
  unsigned mlst_facts() const noexcept { return mlst_facts_; }
  void set_mlst_facts(unsigned facts) noexcept { mlst_facts_ = facts; }

  /// PBSZ 0 was sent (PROT may follow).
  void set_pbsz() noexcept { pbsz_ = true; }
  bool pbsz_set() const noexcept { return pbsz_; }
  /// PROT P (true) or PROT C (false): whether data connections are TLS.
  void set_private_data(bool on) noexcept { private_data_ = on; }
  bool private_data() const noexcept { return private_data_; }

  /// Transfer counters of this session (STAT).
  const session_stats& stats() const noexcept { return stats_; }

  /// Ends the session after the current reply (QUIT).
  void quit() noexcept { quit_ = true; }
  bool quitting() const noexcept { return quit_; }

 protected:
  // Logged out (USER again, REIN): the state of a new connection, but for FTPS's and
  // HOST's, which REIN resets itself.
  void log_out() {
    user_.reset();
    rare_.reset();
    cwd_ = "/";
    ascii_ = true;
    restart_ = 0;
    epsv_all_ = false;
    mlst_facts_ = mlst_fact::defaults;
  }

  // PASS succeeded.
  void log_in(coftp::user who) {
    user_ = std::move(who);
    cwd_ = "/";
  }

  // USER's name, for PASS; `take_pending_user` hands it over once.
  void set_pending_user(std::string name) { rare().pending_user = std::move(name); }
  std::string take_pending_user() {
    if (!rare_) return {};
    auto name = rare_->pending_user.value_or("");
    rare_->pending_user.reset();
    return name;
  }

  // An idle session does not carry the pair state once both halves are settled.
  void drop_settled_pairs() {
    if (rare_ && !rare_->pending_user && !rare_->rename_from) rare_.reset();
  }
  void drop_rename() {
    if (rare_) rare_->rename_from.reset();
  }
  bool renaming() const noexcept { return rare_ && rare_->rename_from; }

  void reset_protection() noexcept {
    pbsz_ = false;
    private_data_ = false;
  }

  std::optional<coftp::user> user_;
  std::string cwd_ = "/";
  bool ascii_ = true;
  std::uint64_t restart_ = 0;
  bool epsv_all_ = false;
  bool pbsz_ = false;          // PBSZ 0 sent (RFC 4217 8)
  bool private_data_ = false;  // PROT P (RFC 4217 9)
  unsigned mlst_facts_ = mlst_fact::defaults;
  session_stats stats_;
  bool quit_ = false;

 private:
  // State of a command pair (USER then PASS, RNFR then RNTO): allocated when the first
  // command needs it, freed once both are settled.
  struct rare_state {
    std::optional<std::string> pending_user;
    std::optional<resolved_path> rename_from;
  };
  std::unique_ptr<rare_state> rare_;
  rare_state& rare() {
    if (!rare_) rare_ = std::make_unique<rare_state>();
    return *rare_;
  }
};

}  // namespace coftp
