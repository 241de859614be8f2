// coftp/detail/json.hpp - the little JSON the session log writes (RFC 8259): string
// escaping that always yields valid JSON, and a builder for one flat object per line.
//
// Hand-written on purpose: a header-only library should not force a JSON library on
// everyone who includes it for a log line, and a flat object of strings, integers and
// booleans needs only a correct string escape. tests/test_log_format.cpp parses the
// output with nlohmann/json, hostile input included.
//
// The strings come from clients (user names, paths, command arguments), so the escape
// assumes nothing: '"' and '\' are escaped, every control character (C0, DEL and the C1
// range U+0080-U+009F, which some terminals obey) becomes \u00XX, U+2028 and U+2029
// (line breaks to JavaScript and to Python's str.splitlines) become \u2028 and \u2029,
// and bytes that are not well-formed UTF-8 (Unicode 15, table 3-7: no overlong forms, no
// surrogates, nothing past U+10FFFF) become U+FFFD, one per maximal ill-formed subpart
// as Unicode 15 section 3.9 recommends. The output is printable and holds no line break:
// a client cannot end a log line, or forge one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace coftp::detail {

// The length of the UTF-8 sequence at the start of `s` (not empty) if it is
// well-formed; else 0, and `skip` is the length of its maximal ill-formed subpart (at
// least 1), the bytes one U+FFFD replaces.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t& skip) noexcept {
  auto c = static_cast<unsigned char>(s[0]);
  std::size_t trail = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the first trailing byte
  if (c < 0x80) {
    return skip = 1;
  } else if (c >= 0xc2 && c <= 0xdf) {
    trail = 1;
  } else if (c == 0xe0) {
    trail = 2, lo = 0xa0;  // no overlong 3-byte forms
  } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
    trail = 2;
  } else if (c == 0xed) {
    trail = 2, hi = 0x9f;  // no surrogates (U+D800-U+DFFF)
  } else if (c == 0xf0) {
    trail = 3, lo = 0x90;  // no overlong 4-byte forms
  } else if (c >= 0xf1 && c <= 0xf3) {
    trail = 3;
  } else if (c == 0xf4) {
    trail = 3, hi = 0x8f;  // nothing past U+10FFFF
  } else {
    skip = 1;  // 0x80-0xc1 (a stray trailing byte, an overlong 2-byte lead), 0xf5-0xff
    return 0;
  }
  for (std::size_t k = 1; k <= trail; ++k) {
    if (k >= s.size()) {
      skip = k;
      return 0;
    }
    auto t = static_cast<unsigned char>(s[k]);
    if (t < lo || t > hi) {
      skip = k;
      return 0;
    }
    lo = 0x80, hi = 0xbf;
  }
  return skip = trail + 1;
}

/// Appends `s` to `out` as a JSON string, quotes included: always valid JSON, printable,
/// on one line, whatever bytes `s` holds (see the file comment).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  auto escape = [&](unsigned cp) {  // \uXXXX, cp <= 0xffff
    out += "\\u";
    out += hex[(cp >> 12) & 0xf];
    out += hex[(cp >> 8) & 0xf];
    out += hex[(cp >> 4) & 0xf];
    out += hex[cp & 0xf];
  };
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7f) {
        escape(c);
      } else {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    std::size_t skip = 0;
    std::size_t n = utf8_sequence_length(s.substr(i), skip);
    auto b1 = n > 1 ? static_cast<unsigned char>(s[i + 1]) : 0;
    auto b2 = n > 2 ? static_cast<unsigned char>(s[i + 2]) : 0;
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
    } else if (c == 0xc2 && b1 < 0xa0) {
      escape(b1);  // a C1 control, U+0080-U+009F: C2 80 - C2 9F
    } else if (c == 0xe2 && b1 == 0x80 && (b2 == 0xa8 || b2 == 0xa9)) {
      escape(b2 == 0xa8 ? 0x2028 : 0x2029);
    } else {
      out.append(s.substr(i, n));
    }
    i += skip;
  }
  out += '"';
}

/// Builds one flat JSON object, members in the order added: `{"a":1,"b":"x"}`. Keys are
/// the caller's literals and are not escaped; string values are.
class json_object {
 public:
  json_object() { text_ += '{'; }

  json_object& add(std::string_view key, std::string_view value) {
    append_json_string(start(key), value);
    return *this;
  }
  json_object& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  template <class Int>
    requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>)
  json_object& add(std::string_view key, Int value) {
    start(key) += std::to_string(value);
    return *this;
  }
  json_object& add(std::string_view key, bool value) {
    start(key) += value ? "true" : "false";
    return *this;
  }

  /// The object, closed: "{...}".
  std::string str() && {
    text_ += '}';
    return std::move(text_);
  }

 private:
  std::string& start(std::string_view key) {
    if (text_.size() > 1) text_ += ',';
    text_ += '"';
    text_ += key;
    text_ += "\":";
    return text_;
  }
  std::string text_;
};

}  // namespace coftp::detail
