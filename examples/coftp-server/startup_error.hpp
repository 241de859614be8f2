// A failure to start coftp-server: its message (one or more lines, without the last line
// end) goes to standard error and the program exits with status 2.
#pragma once

#include <stdexcept>
#include <string>

namespace coftp_server {

struct startup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace coftp_server
