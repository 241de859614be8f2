// coftp-server's command line (CLI11): every flag, into `settings`.
#pragma once

#include "settings.hpp"

#include <optional>

namespace coftp_server {

// Parses the command line into `s` and puts the parsed durations, rates and TLS flags into
// `s.server`. Returns the exit status when the program is done: --help (0, the help
// printed) or a flag CLI11 refuses (2, its message printed); nullopt to go on.
std::optional<int> parse_command_line(int argc, char** argv, settings& s);

// What CLI11 does not check: the CIDR lists, --pasv-ports (put into s.server) and, with
// --s3-endpoint, the bucket and the credentials (read now, into s.s3). Not made in
// --hash-password mode. Throws startup_error.
void check_flags(settings& s);

}  // namespace coftp_server
