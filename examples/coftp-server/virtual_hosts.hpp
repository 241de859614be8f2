// coftp-server's --virtual-host NAME=ROOT[,USERS_FILE] (RFC 7151 HOST).
#pragma once

#include "startup_error.hpp"
#include "users.hpp"

#include <coftp/coftp.hpp>

#include <string>
#include <vector>

namespace coftp_server {

struct virtual_host_spec {
  std::string name, root, users;
  server_auth auth;
};

// --virtual-host NAME=ROOT[,USERS_FILE]: parsed (and the users files loaded) now, the
// roots opened with the server's, before any privilege drop. `auth`: the users of --root.
// Throws startup_error.
inline std::vector<virtual_host_spec> parse_virtual_hosts(const std::vector<std::string>& virtual_hosts,
                                                          const server_auth& auth) {
  std::vector<virtual_host_spec> hosts;
  for (const auto& v : virtual_hosts) {
    auto eq = v.find('=');
    auto comma = v.find(',', eq == std::string::npos ? 0 : eq);
    virtual_host_spec h;
    if (eq != std::string::npos) {
      h.name = v.substr(0, eq);
      h.root = v.substr(eq + 1, comma == std::string::npos ? std::string::npos : comma - eq - 1);
      if (comma != std::string::npos) h.users = v.substr(comma + 1);
    }
    if (h.name.empty() || h.root.empty() || !coftp::canonical_host_name(h.name) ||
        (comma != std::string::npos && h.users.empty()))
      throw startup_error("--virtual-host: expected NAME=ROOT[,USERS_FILE] with NAME a host name, got '" + v + "'");
    h.auth = auth;  // the users of --root, unless the host has a file of its own
    if (!h.users.empty()) {
      try {
        h.auth = server_auth{coftp::passwd_file::load(h.users), {}};
      } catch (const std::exception& e) {
        throw startup_error("--virtual-host " + h.name + ": " + e.what());
      }
    }
    hosts.push_back(std::move(h));
  }
  return hosts;
}

}  // namespace coftp_server
