// coftp/config.hpp - version and compile-time limits.
//
// Every limit can be overridden by defining the macro before including any
// coftp header (as cpp-httplib does with CPPHTTPLIB_*).
#pragma once

#define COFTP_VERSION "0.1.0"

/// 1 when coftp is built with OpenSSL: FTPS (AUTH TLS, PROT P, implicit TLS). The meson
/// build defines it from its `tls` feature option; embedders that link OpenSSL
/// (`-lssl -lcrypto`) define it themselves. Without it no header includes OpenSSL and
/// FEAT advertises no TLS.
#ifndef COFTP_HAS_TLS
#define COFTP_HAS_TLS 0
#endif

/// Longest command line accepted, CRLF included. Longer lines get `500` and are dropped.
#ifndef COFTP_MAX_LINE_LENGTH
#define COFTP_MAX_LINE_LENGTH 4096
#endif

/// Size of one chunk of a data transfer (buffer allocated only while a transfer runs).
#ifndef COFTP_TRANSFER_CHUNK
#define COFTP_TRANSFER_CHUNK (256 * 1024)
#endif

/// Lines a client may pipeline while a transfer runs before the server stops reading them.
#ifndef COFTP_MAX_PENDING_COMMANDS
#define COFTP_MAX_PENDING_COMMANDS 16
#endif

/// Milliseconds a session whose command was still running when the server began to stop
/// waits, after that command's reply, for the client's QUIT (answered 221; anything else,
/// or nothing, gets 421). The shutdown grace bounds it as well.
#ifndef COFTP_SHUTDOWN_QUIT_WAIT_MS
#define COFTP_SHUTDOWN_QUIT_WAIT_MS 2000
#endif

/// Most entries a backend's directory stream hands out at once (storage.hpp, listing_batch).
#ifndef COFTP_LISTING_BATCH
#define COFTP_LISTING_BATCH 256
#endif

/// Listings of up to this many entries are sorted by name; a larger directory is sent in
/// the order its backend yields it, batch after batch, so that its size never matters.
#ifndef COFTP_LISTING_SORT_LIMIT
#define COFTP_LISTING_SORT_LIMIT 4096
#endif

/// Most entries a glob in NLST/LIST/STAT may match; beyond it the listing is refused with
/// 550 rather than built without bound.
#ifndef COFTP_MAX_GLOB_MATCHES
#define COFTP_MAX_GLOB_MATCHES 10000
#endif

/// Deepest level LIST -R and NLST -R list below the directory asked for (which is level
/// 0): a deeper directory still appears as an entry of its parent, but is not listed,
/// and the final 226 says the listing was truncated.
#ifndef COFTP_MAX_LISTING_DEPTH
#define COFTP_MAX_LISTING_DEPTH 8
#endif

/// Most entries LIST -R and NLST -R send, over all directories; there the listing ends
/// and the final 226 says it was truncated.
#ifndef COFTP_MAX_RECURSIVE_ENTRIES
#define COFTP_MAX_RECURSIVE_ENTRIES 10000
#endif

/// How long a PROT P data connection that resumed the TLS session of another control
/// connection of its client waits for that connection to finish logging in (clients
/// that share one session cache, as rclone, open several at once), in milliseconds;
/// then it is refused unless that login was the same user's.
#ifndef COFTP_TLS_OWNER_LOGIN_WAIT_MS
#define COFTP_TLS_OWNER_LOGIN_WAIT_MS 2000
#endif
