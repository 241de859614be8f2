// coftp/reply_table.hpp - the one table from failures to FTP replies: storage errors
// (any backend's, errno or `storage_errc`), transfer results (the transfer engine's
// typed outcomes) and command lines the parser refused. Handlers, the session and the
// transfer engine never spell a failure reply of their own. Pure: no I/O.
#pragma once

#include <coftp/command.hpp>
#include <coftp/error.hpp>
#include <coftp/outcome.hpp>
#include <coftp/reply.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace coftp {

/// The reply for a storage error (RFC 959 4.2.2 codes; libunftp's one-match idea).
/// `overrides` lets a handler word a case its own way, e.g. {storage_errc::not_found,
/// "Directory not found"} for CWD; the code stays the table's.
inline reply reply_for(const std::error_code& ec,
                       std::initializer_list<std::pair<storage_errc, std::string_view>> overrides = {}) {
  using enum reply_code;
  auto kind = classify(ec);
  reply r{local_error, "Local error in processing"};
  switch (kind) {
    case storage_errc::not_found: r = {file_unavailable, "File not found"}; break;
    case storage_errc::not_a_directory: r = {file_unavailable, "Not a directory"}; break;
    case storage_errc::is_a_directory: r = {file_unavailable, "Is a directory"}; break;
    case storage_errc::already_exists: r = {file_unavailable, "Already exists"}; break;
    case storage_errc::not_empty: r = {file_unavailable, "Directory not empty"}; break;
    case storage_errc::permission_denied: r = {file_unavailable, "Permission denied"}; break;
    case storage_errc::no_space: r = {insufficient_storage, "Insufficient storage space"}; break;
    case storage_errc::invalid_name: r = {file_name_not_allowed, "File name not allowed"}; break;
    case storage_errc::invalid_offset: r = {invalid_restart, "Invalid REST parameter"}; break;
    case storage_errc::too_many_entries:
      r = {file_unavailable, "Too many entries for one operation on this store"};
      break;
    case storage_errc::io_error: break;
  }
  for (const auto& [k, text] : overrides)
    if (k == kind) {
      r.text = text;
      break;
    }
  return r;
}

/// The reply for a transfer that did not complete (RFC 959 4.2: 425 when no data
/// connection was made, 426 when it broke, 451/452 when the store failed; RFC 4217's
/// 521 for clear data where TLS is required).
inline reply reply_for(const transfer_result& r) {
  using enum reply_code;
  if (r.cause == error::shutting_down) return {transfer_aborted, "Server shutting down; transfer aborted"};
  if (r.cause == error::data_not_protected)
    return {protection_required, "Data connections must be encrypted: send PBSZ 0 and PROT P"};
  if (r.cause == error::no_data_connection) return {cannot_open_data, "Cannot open data connection"};
  if (r.cause == error::tls_not_resumed)
    return {cannot_open_data, "Data connection refused: its TLS session must resume the control connection's"};
  if (r.cause == error::data_tls_failed) return {cannot_open_data, "TLS negotiation on the data connection failed"};
  switch (r.outcome) {
    case transfer_outcome::storage_error:
      if (classify(r.cause) == storage_errc::no_space) return {insufficient_storage, "Insufficient storage space"};
      return {local_error, "Local error in processing"};
    case transfer_outcome::timed_out: return {transfer_aborted, "Data connection timed out; transfer aborted"};
    default: return {transfer_aborted, "Connection closed; transfer aborted"};
  }
}

/// The reply for a command line `parse_command` refused.
inline reply reply_for(parse_error e) {
  using enum reply_code;
  switch (e) {
    case parse_error::nul_byte: return {bad_arguments, "NUL byte in command line"};
    case parse_error::bad_encoding: return {bad_arguments, "Invalid characters in argument (UTF-8 expected)"};
    case parse_error::empty: return {syntax_error, "Empty command"};
    default: return {syntax_error, "Unknown command"};
  }
}

}  // namespace coftp
