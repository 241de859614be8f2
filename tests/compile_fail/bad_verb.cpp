// A command table refuses, at compile time, a handler whose verb parse_command could
// never produce (issue #19). tests/compile_fail/run compiles this file once per BAD_VERB
// value and expects each to fail with command_table's message, and once with a good verb
// ("XMD5") that must compile: the failures are the static_assert's, not a broken file.
#include <coftp/command_table.hpp>

#ifndef BAD_VERB
#define BAD_VERB "XMD5"
#endif

struct checksum {
  static constexpr std::string_view verb = BAD_VERB;
  static constexpr coftp::needs requires_ = coftp::needs::none;
};

using table = coftp::command_table<checksum>;
static_assert(table::size == 1);
