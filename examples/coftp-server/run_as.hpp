// coftp-server's --run-as USER and --allow-root: whom the server drops to after binding.
#pragma once

#include "settings.hpp"
#include "startup_error.hpp"

#include <coftp/coftp.hpp>

#include <unistd.h>

#include <optional>
#include <string>

namespace coftp_server {

// The user to drop to once the ports are bound, or nullopt: no --run-as, or already that
// user. Throws startup_error.
inline std::optional<coftp::system_user> user_to_run_as(const settings& s) {
  // Root is refused unless asked for: a flaw in a session would hand over the machine.
  std::optional<coftp::system_user> drop_to;
  if (!s.run_as.empty()) {
    try {
      drop_to = coftp::lookup_system_user(s.run_as);
    } catch (const std::exception& e) {
      throw startup_error("coftp-server: --run-as: " + std::string(e.what()));
    }
    if (drop_to->uid == 0)
      throw startup_error("coftp-server: --run-as " + s.run_as + ": uid 0 is root; use --allow-root to serve as root");
    if (!coftp::running_as_root()) {
      if (drop_to->uid != ::geteuid())
        throw startup_error("coftp-server: --run-as " + s.run_as + " needs root (running as uid " +
                            std::to_string(::geteuid()) + ")");
      drop_to.reset();  // already that user: nothing to drop
    }
  } else if (coftp::running_as_root() && !s.allow_root) {
    throw startup_error(
        "coftp-server: refusing to serve as root. Pass --run-as USER (e.g. --run-as nobody) to drop\n"
        "to USER after binding the ports, or --allow-root to serve as root anyway.");
  }
  return drop_to;
}

}  // namespace coftp_server
