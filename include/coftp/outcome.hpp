// coftp/outcome.hpp - how a transfer ended, as values: what the transfer engine
// (transfer.hpp) returns, what the observer and xferlog are told, and what the one
// table of failure replies (reply_table.hpp) reads. Pure: no I/O.
#pragma once

#include <coftp/error.hpp>

#include <cstdint>
#include <string>
#include <system_error>

namespace coftp {

/// How a transfer ended.
enum class transfer_outcome {
  completed,        ///< all bytes moved and stored
  aborted,          ///< the client sent ABOR (or QUIT) during the transfer
  connection_lost,  ///< the data connection broke
  timed_out,        ///< the data connection stalled or never came
  storage_error,    ///< the backend failed to read or store
};

/// Direction of a transfer.
enum class transfer_direction { download, upload, listing };

/// A transfer's end: its outcome, the bytes moved, and why it did not complete.
struct transfer_result {
  transfer_outcome outcome = transfer_outcome::completed;
  std::uint64_t bytes = 0;
  /// Why, when it did not complete: the backend's error (storage_error), one of
  /// `coftp::error` (no data connection, TLS refused, the server stopping), or empty
  /// (the data connection broke or stalled: `outcome` says which).
  std::error_code cause{};

  bool ok() const noexcept { return outcome == transfer_outcome::completed; }
};

/// The transfer under way, for STAT during a transfer.
struct transfer_progress {
  bool active = false;
  transfer_direction direction = transfer_direction::download;
  std::string path;
  std::uint64_t bytes = 0;  ///< moved so far
  std::uint64_t total = 0;  ///< expected (a download's file size), 0 when unknown
};

}  // namespace coftp
