// coftp/detail/ascii.hpp - TYPE A (RFC 959 3.1.1.1) line-ending conversion.
//
// On the wire ASCII lines end in CRLF; on disk they end in LF. Both converters are
// stateful so that a CRLF split across two chunks is handled.
#pragma once

#include <string>
#include <string_view>

namespace coftp::detail {

/// Local text to network form: every LF becomes CRLF.
struct ascii_encoder {
  void convert(std::string_view in, std::string& out) const {
    out.clear();
    out.reserve(in.size() + in.size() / 16 + 8);
    for (char c : in) {
      if (c == '\n') out += '\r';
      out += c;
    }
  }
};

/// Network form to local text: CRLF becomes LF; a CR not followed by LF is kept.
struct ascii_decoder {
  bool pending_cr = false;

  void convert(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size() + 1);
    for (char c : in) {
      if (pending_cr) {
        pending_cr = false;
        if (c != '\n') out += '\r';
      }
      if (c == '\r') pending_cr = true;
      else out += c;
    }
  }
  /// Flushes a CR held back at the very end of the stream.
  void finish(std::string& out) {
    out.clear();
    if (pending_cr) out += '\r';
    pending_cr = false;
  }
};

}  // namespace coftp::detail
