// coftp/privileges.hpp - dropping root privileges after binding (POSIX, Linux).
//
// A server started as root binds its ports (21 and 990 need root), opens what only root
// may open (log files, the TLS key, the served directory: local_fs holds its root as a
// descriptor), then becomes an unprivileged user for good, before it serves a byte:
//
//   auto who = coftp::lookup_system_user("ftp");  // before: the password database needs files
//   coftp::basic_server<P> server(io, opts, coftp::local_fs(root), users, observer);  // binds
//   coftp::drop_privileges(who);               // setgroups, setgid, setuid, verified
//   server.start();                            // only now sessions run
//
// The order is the one every careful daemon uses (vsftpd, OpenSSH): supplementary groups
// first (setgroups: the user's groups from the group database, as initgroups would set),
// then the group, then the user, since after setuid nothing else may be changed. Then it
// verifies, because a half-dropped process is worse than a dead one: real, effective and
// saved user and group ids are the new ones, the groups are exactly the expected ones, and
// setuid(0) and setgid(0) fail. Any failure throws; the caller must not serve then.
// Call it before starting other threads (glibc applies set*id to every thread, but nothing
// should run as root meanwhile).
#pragma once

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

namespace coftp {

/// The user to become: ids and supplementary groups from the system's databases.
struct system_user {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  ///< supplementary groups, the primary group included (as initgroups sets)
};

/// True when the process runs with root's effective user id.
inline bool running_as_root() noexcept { return ::geteuid() == 0; }

/// Looks `name` up in the password database (getpwnam_r) and its groups in the group
/// database (getgrouplist).
/// @throws std::runtime_error if there is no such user, or std::system_error if the
/// databases cannot be read.
inline system_user lookup_system_user(const std::string& name) {
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc;
  while ((rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1u << 20))
    buf.resize(buf.size() * 2);
  if (rc != 0) throw std::system_error(rc, std::system_category(), "cannot read the password database");
  if (found == nullptr) throw std::runtime_error("no such user: " + name);
  system_user id{name, pw.pw_uid, pw.pw_gid, {}};
  int count = 16;
  for (int attempt = 0; attempt < 8; ++attempt) {
    id.groups.resize(static_cast<std::size_t>(count));
    int n = count;
    if (::getgrouplist(name.c_str(), pw.pw_gid, id.groups.data(), &n) >= 0) {
      id.groups.resize(static_cast<std::size_t>(n));
      return id;
    }
    count = std::max(n, count * 2);
  }
  throw std::runtime_error("cannot read the groups of user " + name);
}

/// Becomes `who` for good: setgroups, setgid, setuid, then verifies the result.
/// Refuses uid 0 (nothing would be dropped).
/// @throws std::system_error when a call fails, std::runtime_error when the result is
/// not exactly `who` or root could be regained. The process must not serve then.
inline void drop_privileges(const system_user& who) {
  if (who.uid == 0) throw std::runtime_error("refusing to run as " + who.name + ": uid 0 is root");
  auto fail = [&](const char* what) {
    throw std::system_error(errno, std::system_category(), std::string(what) + " for user " + who.name);
  };
  if (::setgroups(who.groups.size(), who.groups.data()) != 0) fail("setgroups");
  if (::setgid(who.gid) != 0) fail("setgid");
  if (::setuid(who.uid) != 0) fail("setuid");

  auto refuse = [&](const std::string& what) {
    throw std::runtime_error("privilege drop to " + who.name + " failed: " + what);
  };
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (::getresuid(&ru, &eu, &su) != 0 || ru != who.uid || eu != who.uid || su != who.uid)
    refuse("the user ids are not all " + std::to_string(who.uid));
  if (::getresgid(&rg, &eg, &sg) != 0 || rg != who.gid || eg != who.gid || sg != who.gid)
    refuse("the group ids are not all " + std::to_string(who.gid));
  if (::getuid() != who.uid || ::geteuid() != who.uid || ::getgid() != who.gid || ::getegid() != who.gid)
    refuse("getuid/geteuid/getgid/getegid disagree");
  int n = ::getgroups(0, nullptr);
  std::vector<gid_t> now(static_cast<std::size_t>(std::max(n, 0)));
  if (n < 0 || ::getgroups(n, now.data()) != n) refuse("getgroups failed");
  auto want = who.groups;
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  std::sort(now.begin(), now.end());
  now.erase(std::unique(now.begin(), now.end()), now.end());
  if (now != want) refuse("the supplementary groups are not the user's");
  if (::setuid(0) == 0 || ::seteuid(0) == 0) refuse("setuid(0) succeeded: root can be regained");
  if (who.gid != 0 && (::setgid(0) == 0 || ::setegid(0) == 0)) refuse("setgid(0) succeeded");
}

/// `drop_privileges(lookup_system_user(name))`.
inline void drop_privileges(const std::string& name) { drop_privileges(lookup_system_user(name)); }

}  // namespace coftp
