// coftp/error.hpp - error codes of the storage layer and of the protocol layer.
//
// Storage backends report failures as std::error_code: either one of
// `storage_errc` below or a system error (errno). They become FTP replies in one table
// (`reply_for` in reply_table.hpp); backends never see FTP codes.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace coftp {

/// What a storage operation can fail with, independent of the backend.
enum class storage_errc {
  not_found = 1,      ///< no such file or directory (or a missing parent)
  not_a_directory,    ///< a directory operation on a file, or a file used as a path component
  is_a_directory,     ///< a file operation on a directory
  already_exists,     ///< the target of MKD or RNTO exists
  not_empty,          ///< RMD of a directory that still holds entries
  permission_denied,  ///< the backend refuses (includes escapes out of the sandbox)
  no_space,           ///< the store is full or over quota
  invalid_name,       ///< a name the backend cannot store (NUL, too long, ...)
  io_error,           ///< anything else: the store failed
  invalid_offset,     ///< a restart offset (REST) beyond the end of the file
  too_many_entries,   ///< an operation on more entries than the backend does at once (s3_storage's RNFR of a large directory)
};

/// Errors of the protocol layer (control connection).
enum class error {
  line_too_long = 1,  ///< a command line exceeded COFTP_MAX_LINE_LENGTH
  idle_timeout,       ///< the control connection was idle for too long
  shutting_down,      ///< the server is stopping
  tls_not_resumed,    ///< a PROT P data connection did not resume its control connection's TLS session
  no_data_connection,    ///< the data connection was not made (no client came, or none answered)
  data_tls_failed,       ///< the TLS handshake on a PROT P data connection failed
  data_not_protected,    ///< TLS is required for data connections and PROT P was not sent
};

namespace detail {

class storage_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coftp.storage"; }
  std::string message(int ev) const override {
    switch (static_cast<storage_errc>(ev)) {
      case storage_errc::not_found: return "not found";
      case storage_errc::not_a_directory: return "not a directory";
      case storage_errc::is_a_directory: return "is a directory";
      case storage_errc::already_exists: return "already exists";
      case storage_errc::not_empty: return "directory not empty";
      case storage_errc::permission_denied: return "permission denied";
      case storage_errc::no_space: return "no space left";
      case storage_errc::invalid_name: return "invalid name";
      case storage_errc::io_error: return "storage failure";
      case storage_errc::invalid_offset: return "invalid offset";
      case storage_errc::too_many_entries: return "too many entries";
    }
    return "unknown storage error";
  }
  // Lets `ec == storage_errc::not_found` hold for a system ENOENT, so backends
  // may return errno values as they are.
  bool equivalent(const std::error_code& code, int condition) const noexcept override {
    if (code.category() == *this) return code.value() == condition;
    // Success (errno 0) is no storage error, io_error included.
    if (!code) return false;
    if (code.category() != std::system_category() && code.category() != std::generic_category())
      return false;
    return from_errno(code.value()) == condition;
  }
  static int from_errno(int e) noexcept {
    switch (e) {
      case ENOENT: return int(storage_errc::not_found);
      case ENOTDIR: return int(storage_errc::not_a_directory);
      case EISDIR: return int(storage_errc::is_a_directory);
      case EEXIST: return int(storage_errc::already_exists);
      case ENOTEMPTY: return int(storage_errc::not_empty);
      case EACCES: case EPERM: case EXDEV: case ELOOP: case EROFS:
        return int(storage_errc::permission_denied);
      case ENOSPC: case EDQUOT: case EFBIG: return int(storage_errc::no_space);
      case ENAMETOOLONG: case EINVAL: case EILSEQ: return int(storage_errc::invalid_name);
      default: return int(storage_errc::io_error);
    }
  }
};

class protocol_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coftp"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::line_too_long: return "command line too long";
      case error::idle_timeout: return "idle timeout";
      case error::shutting_down: return "server shutting down";
      case error::tls_not_resumed: return "data connection did not resume the control connection's TLS session";
      case error::no_data_connection: return "no data connection";
      case error::data_tls_failed: return "TLS handshake on the data connection failed";
      case error::data_not_protected: return "data connections must be protected (PROT P)";
    }
    return "unknown coftp error";
  }
};

}  // namespace detail

/// The category of `storage_errc`; also recognises equivalent errno values.
inline const std::error_category& storage_category() noexcept {
  static const detail::storage_category_impl cat;
  return cat;
}

/// The category of `coftp::error`.
inline const std::error_category& protocol_category() noexcept {
  static const detail::protocol_category_impl cat;
  return cat;
}

inline std::error_code make_error_code(storage_errc e) noexcept { return {int(e), storage_category()}; }
inline std::error_condition make_error_condition(storage_errc e) noexcept {
  return {int(e), storage_category()};
}
inline std::error_code make_error_code(error e) noexcept { return {int(e), protocol_category()}; }

/// Classifies any storage error code (coftp's or errno) as a `storage_errc`.
inline storage_errc classify(const std::error_code& ec) noexcept {
  if (ec.category() == storage_category()) return static_cast<storage_errc>(ec.value());
  if (ec.category() == std::system_category() || ec.category() == std::generic_category())
    return static_cast<storage_errc>(detail::storage_category_impl::from_errno(ec.value()));
  return storage_errc::io_error;
}

}  // namespace coftp

template <>
struct std::is_error_condition_enum<coftp::storage_errc> : std::true_type {};
template <>
struct std::is_error_code_enum<coftp::error> : std::true_type {};
