// coftp/commands.hpp - every command handler of coftp and the default command table.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/access.hpp>
#include <coftp/commands/files.hpp>
#include <coftp/commands/info.hpp>
#include <coftp/commands/listing.hpp>
#include <coftp/commands/navigation.hpp>
#include <coftp/commands/params.hpp>
#include <coftp/commands/tls.hpp>
#include <coftp/commands/transfer.hpp>

namespace coftp {

/// The commands a default server answers. Extend with `with<...>`, trim with `without<...>`.
using default_commands = command_table<
    // access control (RFC 959 4.1.1, RFC 7151 HOST)
    commands::host, commands::user, commands::pass, commands::acct, commands::rein, commands::quit,
    // security (RFC 2228, RFC 4217): offered when the server has a certificate
    commands::auth, commands::pbsz, commands::prot,
    // transfer parameters (RFC 959 4.1.2, RFC 2428)
    commands::type, commands::mode, commands::stru, commands::allo, commands::pasv, commands::epsv,
    commands::port, commands::eprt,
    // transfers (RFC 959 4.1.3, RFC 3659 5)
    commands::retr, commands::stor, commands::appe, commands::stou, commands::rest, commands::abor,
    // listings (RFC 959, RFC 3659 7)
    commands::list, commands::nlst, commands::mlsd, commands::mlst, commands::stat,
    // navigation (RFC 959, RFC 1123 X-aliases)
    commands::cwd, commands::cdup, commands::pwd, commands::xcwd, commands::xcup, commands::xpwd,
    // file management (RFC 959, RFC 3659, MFMT draft)
    commands::dele, commands::mkd, commands::rmd, commands::xmkd, commands::xrmd, commands::rnfr,
    commands::rnto, commands::size, commands::mdtm, commands::mfmt,
    // information (RFC 959, RFC 2389)
    commands::syst, commands::noop, commands::feat, commands::opts, commands::help, commands::site>;

}  // namespace coftp
