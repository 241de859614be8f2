// coftp/coftp.hpp - the umbrella header: every public header of coftp, nothing else.
#pragma once

#include <coftp/auth.hpp>
#include <coftp/command.hpp>
#include <coftp/command_table.hpp>
#include <coftp/commands.hpp>
#include <coftp/config.hpp>
#include <coftp/control_stream.hpp>
#include <coftp/data_channel.hpp>
#include <coftp/error.hpp>
#include <coftp/listing.hpp>
#include <coftp/observer.hpp>
#include <coftp/options.hpp>
#include <coftp/path.hpp>
#include <coftp/permissions.hpp>
#include <coftp/reply.hpp>
#include <coftp/server.hpp>
#include <coftp/session.hpp>
#include <coftp/storage.hpp>
#include <coftp/storage/local_fs.hpp>
#include <coftp/storage/memory_fs.hpp>
#include <coftp/storage/read_only.hpp>
#include <coftp/storage/rooted.hpp>
