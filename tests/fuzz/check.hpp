// tests/fuzz/check.hpp - the assertion every fuzz target uses for its properties.
//
// A violated property aborts with the condition and its line, which libFuzzer reports
// as a crash and saves the input as crash-<sha1>: "does not crash" is not enough, each
// target states what its parser promises and checks it on every input.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
