// tests/fuzz/check.hpp - the assertion every fuzz target uses for its properties.
//
// A violated property aborts with the condition and its line, which libFuzzer reports
// as a crash and saves the input as crash-<sha1>: "does not crash" is not enough, each
// target states what its parser promises and checks it on every input.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

/// Reads an input as text cut in pieces: the first byte modulo `max_cuts` is the number N
/// of cuts, the next N bytes place them, the rest is the text. `cuts` gets the sorted cut
/// offsets, with 0 and the text's size. False when the input is too short for its N.
inline bool split_input(const std::uint8_t* data, std::size_t size, std::size_t max_cuts, std::string_view& text,
                        std::vector<std::size_t>& cuts) {
  if (size == 0) return false;
  std::size_t n = data[0] % max_cuts;
  if (size < 1 + n) return false;
  text = std::string_view(reinterpret_cast<const char*>(data) + 1 + n, size - 1 - n);
  cuts.clear();
  for (std::size_t i = 0; i < n; ++i) cuts.push_back(text.empty() ? 0 : data[1 + i] % (text.size() + 1));
  cuts.push_back(0);
  cuts.push_back(text.size());
  std::sort(cuts.begin(), cuts.end());
  return true;
}
