// coftp/address_guard.hpp - who may connect and log in: the allow and deny lists, and
// the per-address record of failed logins that bans an address trying passwords.
//
// A server owns one guard. It asks `admit` when a control connection arrives (before
// the greeting); its sessions report each failed login with `record_failure` and ask
// `banned` before USER and PASS, so that a session opened before the ban is stopped at
// its next attempt too. Sans-I/O: times are passed in (steady_clock by default), so
// the rules are testable without sleeping.
//
// Thread-safe: sessions run on several threads; one mutex guards the table, held for a
// hash lookup and a few list splices.
//
// Bounded: at most `server_options::max_tracked_addresses` addresses are remembered.
// When the table is full, the address whose last failure is the oldest is forgotten
// first; a banned address is forgotten only when no unbanned one is left, so that an
// attacker spraying single failures from many addresses cannot flush the bans.
#pragma once

#include <coftp/access_control.hpp>
#include <coftp/options.hpp>
#include <coftp/reply.hpp>

#include <asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace coftp {

/// Allow/deny lists and failed-login bans, per client address.
class address_guard {
 public:
  using clock = std::chrono::steady_clock;

  /// What `admit` decided.
  enum class verdict {
    admitted,  ///< go on
    denied,    ///< the allow/deny lists refuse the address
    banned,    ///< too many failed logins lately
  };

  /// Takes the lists and limits of `o`: `allow`, `deny`, `ban_after`, `ban_window`,
  /// `ban_time`, `max_tracked_addresses`. Throws std::invalid_argument for a rule that
  /// is no CIDR block (its text and the reason in what()).
  explicit address_guard(const server_options& o) { reconfigure(o); }

  /// Takes the lists and limits of `o` in place of the present ones, while sessions run
  /// (a reload): failures counted and bans in force stay (a ban keeps the end it was
  /// given). Throws std::invalid_argument, changing nothing, for a rule that is no CIDR
  /// block. Thread-safe.
  void reconfigure(const server_options& o) {
    ip_filter next;
    for (const auto& text : o.allow) add_rule(next, text, true);
    for (const auto& text : o.deny) add_rule(next, text, false);
    std::lock_guard lock(mutex_);
    filter_ = std::move(next);
    ban_after_ = o.ban_after;
    window_ = o.ban_window;
    ban_time_ = o.ban_time;
    capacity_ = o.max_tracked_addresses == 0 ? 1 : o.max_tracked_addresses;
  }

  address_guard(const address_guard&) = delete;
  address_guard& operator=(const address_guard&) = delete;

  /// What a banned address is told, at connect and at USER or PASS.
  static reply banned_reply() { return {reply_code::service_not_available, "Too many failed logins, try again later"}; }

  /// At accept: denied by the lists, banned, or admitted.
  verdict admit(const asio::ip::address& a, clock::time_point now = clock::now()) {
    {
      std::lock_guard lock(mutex_);
      if (!filter_.permits(a)) return verdict::denied;
    }
    if (banned(a, now)) return verdict::banned;
    return verdict::admitted;
  }

  /// True while `a` is banned.
  bool banned(const asio::ip::address& a, clock::time_point now = clock::now()) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(normalized_address(a));
    if (it == index_.end() || !it->second->in_ban) return false;
    if (it->second->banned_until > now) return true;
    forget(it);  // served its time; its failures were cleared when it was banned
    return false;
  }

  /// Records a failed login from `a` at `now`. Returns true if this failure bans the
  /// address (the `ban_after`-th failure within `ban_window`); a failure from an address
  /// already banned changes nothing. A successful login clears nothing: otherwise an
  /// attacker could interleave anonymous logins with guesses.
  bool record_failure(const asio::ip::address& a, clock::time_point now = clock::now()) {
    auto key = normalized_address(a);
    std::lock_guard lock(mutex_);
    if (ban_after_ == 0) return false;
    auto it = index_.find(key);
    if (it != index_.end() && it->second->in_ban) {
      if (it->second->banned_until > now) return false;
      forget(it);
      it = index_.end();
    }
    entry_list::iterator e;
    if (it == index_.end()) {
      make_room(now);
      watched_.push_back(entry{key, {}, {}, false});
      e = std::prev(watched_.end());
      index_.emplace(key, e);
    } else {
      e = it->second;
      watched_.splice(watched_.end(), watched_, e);  // the most recent failure goes last
    }
    auto& times = e->failures;
    std::size_t stale = 0;
    while (stale < times.size() && now - times[stale] >= window_) ++stale;
    times.erase(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(stale));
    times.push_back(now);
    if (times.size() < ban_after_) return false;
    times.clear();
    times.shrink_to_fit();
    e->in_ban = true;
    e->banned_until = now + ban_time_;
    // banned_ stays sorted by expiry: a ban goes last, unless a reload shortened ban_time.
    auto at = banned_.end();
    while (at != banned_.begin() && std::prev(at)->banned_until > e->banned_until) --at;
    banned_.splice(at, watched_, e);
    return true;
  }

  /// Lifts a ban and forgets the failures of `a` (an operator's "unban").
  void forgive(const asio::ip::address& a) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(normalized_address(a));
    if (it != index_.end()) forget(it);
  }

  /// Addresses remembered (with failures, or banned).
  std::size_t tracked() const {
    std::lock_guard lock(mutex_);
    return index_.size();
  }

  /// The allow and deny lists (a copy: a reload may replace them).
  ip_filter filter() const {
    std::lock_guard lock(mutex_);
    return filter_;
  }

 private:
  struct entry {
    asio::ip::address address;
    std::vector<clock::time_point> failures;  // within the window, oldest first, fewer than ban_after
    clock::time_point banned_until;
    bool in_ban = false;
  };
  using entry_list = std::list<entry>;
  using index_map = std::unordered_map<asio::ip::address, entry_list::iterator>;

  static void add_rule(ip_filter& filter, const std::string& text, bool allow) {
    auto ec = allow ? filter.allow(text) : filter.deny(text);
    if (ec)
      throw std::invalid_argument(std::string("coftp: bad ") + (allow ? "allow" : "deny") + " rule '" + text +
                                  "': " + ec.message());
  }

  void forget(index_map::iterator it) {
    auto e = it->second;
    (e->in_ban ? banned_ : watched_).erase(e);
    index_.erase(it);
  }

  // Called with the mutex held, before adding an entry.
  void make_room(clock::time_point now) {
    while (!banned_.empty() && banned_.front().banned_until <= now) forget(index_.find(banned_.front().address));
    while (index_.size() >= capacity_) {
      auto& victims = watched_.empty() ? banned_ : watched_;
      forget(index_.find(victims.front().address));
    }
  }

  mutable std::mutex mutex_;  // guards all below
  ip_filter filter_;
  std::size_t ban_after_ = 0;
  clock::duration window_{};
  clock::duration ban_time_{};
  std::size_t capacity_ = 1;

  entry_list watched_;  // not banned, by last failure, oldest first
  entry_list banned_;   // banned, by expiry, soonest first
  index_map index_;
};

}  // namespace coftp
