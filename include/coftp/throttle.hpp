// coftp/throttle.hpp - bandwidth limits: token buckets per session and per user.
//
// Operators cap how fast one session, and all the sessions of one user together, move
// file data. Each direction has its own limit. A transfer takes tokens (bytes) from its
// session's bucket and from its user's shared bucket before each chunk it moves, and
// waits when either is in debt; the chunks shrink to about 50 ms worth of the tightest
// rate, so that the rate holds over short spans too and an ABOR never waits behind a
// long sleep (the wait is cancelled with the transfer).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace coftp {

/// Bytes per second in each direction; 0 is unlimited.
struct rate_limits {
  std::uint64_t download = 0;  ///< RETR: server to client
  std::uint64_t upload = 0;    ///< STOR, APPE, STOU: client to server

  bool limited() const noexcept { return download != 0 || upload != 0; }
  friend bool operator==(const rate_limits&, const rate_limits&) = default;
};

/// A token bucket: `rate` bytes per second, holding at most `burst` bytes of credit
/// (a tenth of a second's worth by default, at least 16 KiB). Not thread-safe.
class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  /// No limit: `take` never asks to wait.
  token_bucket() = default;

  explicit token_bucket(std::uint64_t rate, std::uint64_t burst = 0, clock::time_point now = clock::now()) noexcept
      : rate_(static_cast<double>(rate)),
        burst_(static_cast<double>(burst != 0 ? burst : std::max<std::uint64_t>(rate / 10, 16 * 1024))),
        tokens_(burst_),
        last_(now) {}

  /// Bytes per second; 0 when unlimited.
  std::uint64_t rate() const noexcept { return static_cast<std::uint64_t>(rate_); }

  /// Takes `bytes` and returns how long to wait before moving them: zero when the bucket
  /// held them, else the time until the debt is paid. The debt stays, so successive
  /// takes are spaced at the rate however they are sized.
  std::chrono::nanoseconds take(std::uint64_t bytes, clock::time_point now = clock::now()) noexcept {
    if (rate_ == 0) return std::chrono::nanoseconds::zero();
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = std::max(last_, now);
    if (elapsed > 0) tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ >= 0) return std::chrono::nanoseconds::zero();
    return std::chrono::nanoseconds(static_cast<std::int64_t>(-tokens_ / rate_ * 1e9));
  }

 private:
  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  clock::time_point last_{};
};

/// A token_bucket shared by the sessions of one user, which may run on several threads:
/// a mutex of its own, so that only that user's sessions ever wait on it.
class shared_token_bucket {
 public:
  explicit shared_token_bucket(std::uint64_t rate) noexcept : bucket_(rate) {}

  std::uint64_t rate() const noexcept { return bucket_.rate(); }

  std::chrono::nanoseconds take(std::uint64_t bytes, token_bucket::clock::time_point now) {
    std::lock_guard lock(mutex_);
    return bucket_.take(bytes, now);
  }

 private:
  std::mutex mutex_;
  token_bucket bucket_;
};

/// The buckets of the users logged in now, by name: a user's sessions share one per
/// direction; they go away with the user's last session. Thread-safe; used at login only.
class user_rate_registry {
 public:
  struct buckets {
    std::shared_ptr<shared_token_bucket> download;  ///< null: unlimited
    std::shared_ptr<shared_token_bucket> upload;    ///< null: unlimited
  };

  /// The buckets of user `name` at `limits` (made on first use; a user whose limits
  /// changed gets new ones).
  buckets acquire(std::string_view name, rate_limits limits) {
    if (!limits.limited()) return {};
    std::lock_guard lock(mutex_);
    if (users_.size() >= sweep_at_) sweep();
    auto& e = users_[std::string(name)];
    buckets b{e.download.lock(), e.upload.lock()};
    if (limits.download != 0 && (!b.download || b.download->rate() != limits.download))
      e.download = b.download = std::make_shared<shared_token_bucket>(limits.download);
    if (limits.upload != 0 && (!b.upload || b.upload->rate() != limits.upload))
      e.upload = b.upload = std::make_shared<shared_token_bucket>(limits.upload);
    if (limits.download == 0) b.download.reset();
    if (limits.upload == 0) b.upload.reset();
    return b;
  }

  /// Users with live buckets (for tests and statistics).
  std::size_t size() {
    std::lock_guard lock(mutex_);
    sweep();
    return users_.size();
  }

 private:
  struct entry {
    std::weak_ptr<shared_token_bucket> download, upload;
  };
  // Drops the users whose sessions are all gone; amortized by doubling the threshold.
  void sweep() {
    std::erase_if(users_, [](const auto& kv) { return kv.second.download.expired() && kv.second.upload.expired(); });
    sweep_at_ = std::max<std::size_t>(64, users_.size() * 2);
  }

  std::mutex mutex_;
  std::unordered_map<std::string, entry> users_;
  std::size_t sweep_at_ = 64;
};

/// What one transfer takes its tokens from: its session's bucket and its user's.
class transfer_throttle {
 public:
  transfer_throttle() = default;
  transfer_throttle(token_bucket* session, shared_token_bucket* user) noexcept : session_(session), user_(user) {
    if (session_ && session_->rate() == 0) session_ = nullptr;
  }

  bool limited() const noexcept { return session_ || user_; }

  /// How many bytes to move at once: about 50 ms at the tightest rate, within [4 KiB, max].
  std::size_t chunk(std::size_t max) const noexcept {
    std::uint64_t rate = UINT64_MAX;
    if (session_) rate = std::min(rate, session_->rate());
    if (user_) rate = std::min(rate, user_->rate());
    if (rate == UINT64_MAX) return max;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(rate / 20, 4096, max));
  }

  /// Takes `bytes` from both buckets; the longer of their waits.
  std::chrono::nanoseconds take(std::uint64_t bytes) {
    auto now = token_bucket::clock::now();
    auto wait = std::chrono::nanoseconds::zero();
    if (session_) wait = session_->take(bytes, now);
    if (user_) wait = std::max(wait, user_->take(bytes, now));
    return wait;
  }

 private:
  token_bucket* session_ = nullptr;
  shared_token_bucket* user_ = nullptr;
};

/// The bandwidth limits of one logged-in session: buckets of its own and its user's,
/// shared with the user's other sessions (from a `user_rate_registry`). Holds, and
/// allocates, nothing when no limit applies.
class session_throttle {
 public:
  /// Starts the limits of a login: `session` each way, and the user's `own` limits
  /// where set, else `user_default`.
  void start(rate_limits session, rate_limits own, rate_limits user_default, std::string_view user,
             user_rate_registry& registry) {
    if (own.download == 0) own.download = user_default.download;
    if (own.upload == 0) own.upload = user_default.upload;
    state_.reset();
    if (!session.limited() && !own.limited()) return;
    state_ = std::make_unique<state>(
        state{token_bucket(session.download), token_bucket(session.upload), registry.acquire(user, own)});
  }

  /// No limits any more (logged out).
  void reset() noexcept { state_.reset(); }

  /// What a transfer in one direction takes its tokens from.
  transfer_throttle of(bool upload) const noexcept {
    if (!state_) return {};
    if (upload) return {&state_->upload, state_->user.upload.get()};
    return {&state_->download, state_->user.download.get()};
  }

 private:
  struct state {
    token_bucket download, upload;
    user_rate_registry::buckets user;
  };
  std::unique_ptr<state> state_;
};

}  // namespace coftp
