// coftp-server's configuration: every option from the command line, the environment
// (COFTP_<NAME>) and a config file (--config FILE, keys the long flag names), into
// `settings`. CLI11 reads all three; what it does not do is written here: the order
// command line > environment > file (CLI11's own puts the file over the environment),
// errors that name the file, the line and the key, and --print-config's file.
#pragma once

#include "settings.hpp"

#include <optional>
#include <string>
#include <vector>

namespace coftp_server {

// Parses the command line (with the environment and --config) into `s` and puts the
// parsed durations, rates and TLS flags into `s.server`. Returns the exit status when
// the program is done: --help, --version and --print-config (0, printed), or a flag,
// variable or key refused (2, the reason printed); nullopt to go on.
std::optional<int> parse_command_line(int argc, char** argv, settings& s);

// The same parse again, for a reload: the arguments `started` was parsed from, the
// environment and the config file as they are now. Throws startup_error (the file,
// line and key of what is wrong).
settings parse_again(const settings& started);

// What CLI11 does not check: the CIDR lists, --pasv-ports (put into s.server) and, with
// --s3-endpoint, the bucket and the credentials (read now, into s.s3). Not made in
// --hash-password mode. Throws startup_error.
void check_flags(settings& s);

// --check-config's checks beyond check_flags and the users: the certificate and key
// load, the root is (or can be made) a directory. Throws startup_error.
void check_resources(const settings& s);

}  // namespace coftp_server
