// coftp/commands.hpp - every command handler of coftp and the default command table.
#pragma once

#include <coftp/command_table.hpp>
#include <coftp/commands/access.hpp>
#include <coftp/commands/files.hpp>
#include <coftp/commands/info.hpp>
#include <coftp/commands/listing.hpp>
#include <coftp/commands/navigation.hpp>
#include <coftp/commands/params.hpp>
#include <coftp/commands/transfer.hpp>

namespace coftp {

/// The commands a default server answers. Extend with `with<...>`, trim with `without<...>`.
using default_commands = command_table<
    // access control
    commands::user, commands::pass, commands::quit,
    // transfer parameters
    commands::type, commands::mode, commands::stru, commands::allo, commands::pasv, commands::epsv,
    // transfers and listings
    commands::retr, commands::stor, commands::list, commands::nlst, commands::abor,
    // navigation
    commands::cwd, commands::cdup, commands::pwd, commands::xcwd, commands::xcup, commands::xpwd,
    // file management
    commands::dele, commands::mkd, commands::rmd, commands::xmkd, commands::xrmd, commands::rnfr,
    commands::rnto, commands::size, commands::mdtm,
    // information
    commands::syst, commands::noop, commands::feat, commands::opts, commands::help>;

}  // namespace coftp
