// coftp/default_server.hpp - the default policies (a directory on disk, a user table, no
// observer, every command) and `coftp::server`, the server over them.
//
// Apart from server.hpp so that a server over another backend (S3, RAM, your own) does
// not pull in local_fs and its openat2 sandbox.
#pragma once

#include <coftp/auth.hpp>
#include <coftp/commands.hpp>
#include <coftp/observer.hpp>
#include <coftp/server.hpp>
#include <coftp/storage/local_fs.hpp>

namespace coftp {

/// The policies of the default server. Derive and override what you need:
///
/// @code
/// struct my_policies : coftp::default_policies {
///   using storage  = coftp::memory_fs;
///   using commands = coftp::default_commands::with<site_hello>;
/// };
/// @endcode
struct default_policies {
  using storage = local_fs;           ///< a storage_backend
  using authenticator = user_table;   ///< an authenticator
  using observer = null_observer;     ///< receives events
  using commands = default_commands;  ///< a command_table
};

/// The default server: local_fs storage, a user table, no observer.
using server = basic_server<default_policies>;

}  // namespace coftp
