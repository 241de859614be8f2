// fuzz_ascii: the TYPE A converters (include/coftp/detail/ascii.hpp) that rewrite line
// endings of every ASCII-mode transfer, one network read or file chunk at a time.
//
// Input: byte 0 is a count n (mod 16) of cut points, the next n bytes place them; the
// rest is the data, fed to the converters in the pieces the cuts make. Properties:
// - decoding in pieces (and finish()) gives exactly what decoding it whole gives, and
//   that equals a reference (every CRLF becomes LF, every other byte stays);
// - encoding in pieces equals encoding whole equals the reference (LF becomes CRLF);
// - decode(encode(x)) == x for every x;
// - encode(decode(y)) == y exactly when every LF of y follows a CR (network text with no
//   bare LF survives the round trip; bare LFs come back as CRLF).
#include <coftp/detail/ascii.hpp>

#include "check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string decode(const std::vector<std::string_view>& pieces) {
  coftp::detail::ascii_decoder d;
  std::string out, chunk;
  for (auto p : pieces) {
    d.convert(p, chunk);
    out += chunk;
  }
  d.finish(chunk);
  out += chunk;
  FUZZ_CHECK(!d.pending_cr);
  return out;
}

std::string encode(const std::vector<std::string_view>& pieces) {
  coftp::detail::ascii_encoder e;
  std::string out, chunk;
  for (auto p : pieces) {
    e.convert(p, chunk);
    out += chunk;
  }
  return out;
}

std::string reference_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out += s[i];
  return out;
}

std::string reference_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

bool no_bare_lf(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text;
  std::vector<std::size_t> cuts;
  if (!split_input(data, size, 16, text, cuts)) return 0;
  std::vector<std::string_view> pieces, whole{text};
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) pieces.push_back(text.substr(cuts[i], cuts[i + 1] - cuts[i]));

  auto decoded = decode(pieces);
  FUZZ_CHECK(decoded == decode(whole));
  FUZZ_CHECK(decoded == reference_decode(text));

  auto encoded = encode(pieces);
  FUZZ_CHECK(encoded == encode(whole));
  FUZZ_CHECK(encoded == reference_encode(text));

  // Round trips, the second stage cut at the same offsets (clamped).
  std::vector<std::string_view> enc_pieces;
  std::string_view enc(encoded);
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    auto a = std::min(cuts[i], enc.size()), b = std::min(cuts[i + 1], enc.size());
    enc_pieces.push_back(enc.substr(a, b - a));
  }
  if (cuts.back() < enc.size()) enc_pieces.push_back(enc.substr(cuts.back()));
  FUZZ_CHECK(decode(enc_pieces) == text);
  FUZZ_CHECK((encode(std::vector<std::string_view>{decoded}) == text) == no_bare_lf(text));
  return 0;
}
