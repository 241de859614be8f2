// tests/support/run_sync.hpp - the tests call the public helper unqualified.
#pragma once

#include <coftp/testing/run_sync.hpp>

using coftp::testing::run_sync;
