// coftp/storage/s3/protocol.hpp - the sans-I/O half of the S3 backend: AWS Signature
// Version 4, URI encoding, the few XML answers S3 gives, and its date formats. Pure
// functions over strings, so that they are unit-tested and fuzzed without a store.
// Needs OpenSSL's libcrypto (HMAC-SHA256, SHA-256).
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coftp::detail::s3 {

// --- encodings ---------------------------------------------------------------------------

inline std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  return out;
}

/// SigV4's URI encoding: every byte but A-Z a-z 0-9 - . _ ~ as %XY (upper case), and
/// '/' kept as it is when `keep_slash` (an object key in a path).
inline std::string uri_encode(std::string_view s, bool keep_slash = false) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

/// Decodes %XY escapes (and nothing else: '+' stays '+'); a malformed escape is kept.
inline std::string uri_decode(std::string_view s) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    if (s[i] == '%' && i + 2 < s.size() && (hi = value(s[i + 1])) >= 0 && (lo = value(s[i + 2])) >= 0) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// --- hashes ------------------------------------------------------------------------------

inline std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return hex(md, n);
}

inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &n);
  return std::string(reinterpret_cast<const char*>(md), n);
}

/// The SHA-256 of an empty body, the payload hash of GET, HEAD and DELETE.
inline constexpr std::string_view empty_payload_hash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Bodies streamed without a hash (part uploads): still signed, the body is not.
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

// --- Signature Version 4 -------------------------------------------------------------------

struct credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token{};  ///< AWS_SESSION_TOKEN, for temporary credentials
};

/// One request to sign. `path` is the canonical URI, already encoded ("/bucket/a%20b");
/// `query` holds raw (unencoded) names and values; `headers` holds lower-case names and
/// are all signed, with `host`, `x-amz-date` and `x-amz-content-sha256` added by `sign`.
struct signing_input {
  std::string_view method;
  std::string_view host;  ///< as sent in the Host header: "127.0.0.1:7480"
  std::string_view path;
  std::vector<std::pair<std::string, std::string>> query{};
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string_view payload_hash = empty_payload_hash;
};

/// "k1=v1&k2=" sorted by name, names and values URI-encoded: both the canonical query
/// and what goes on the wire, so that the two never differ.
inline std::string canonical_query(std::vector<std::pair<std::string, std::string>> query) {
  for (auto& [k, v] : query) {
    k = uri_encode(k);
    v = uri_encode(v);
  }
  std::sort(query.begin(), query.end());
  std::string out;
  for (auto& [k, v] : query) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

/// "20261129T035733Z" and "20261129" of `t`.
inline std::pair<std::string, std::string> amz_date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  std::string stamp(buf);
  return {stamp, stamp.substr(0, 8)};
}

/// The headers that make `in` an AWS SigV4 request ("Name: value" lines for curl):
/// Authorization, x-amz-date, x-amz-content-sha256 (and x-amz-security-token), plus the
/// caller's own headers, all signed.
inline std::vector<std::string> sign(const signing_input& in, const credentials& cred, std::string_view region,
                                     std::chrono::system_clock::time_point now) {
  auto [stamp, day] = amz_date(now);
  std::vector<std::pair<std::string, std::string>> headers = in.headers;
  headers.emplace_back("host", std::string(in.host));
  headers.emplace_back("x-amz-content-sha256", std::string(in.payload_hash));
  headers.emplace_back("x-amz-date", stamp);
  if (!cred.session_token.empty()) headers.emplace_back("x-amz-security-token", cred.session_token);
  std::sort(headers.begin(), headers.end());

  std::string canonical_headers, signed_headers;
  for (auto& [k, v] : headers) {
    canonical_headers += k + ':' + v + '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += k;
  }
  std::string request;
  request.append(in.method).append("\n").append(in.path).append("\n");
  request.append(canonical_query(in.query)).append("\n");
  request.append(canonical_headers).append("\n").append(signed_headers).append("\n").append(in.payload_hash);

  const std::string scope = day + '/' + std::string(region) + "/s3/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + stamp + '\n' + scope + '\n' + sha256_hex(request);
  std::string key = hmac_sha256("AWS4" + cred.secret_key, day);
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, "s3");
  key = hmac_sha256(key, "aws4_request");
  const std::string mac = hmac_sha256(key, to_sign);
  const std::string signature = hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());

  std::vector<std::string> out;
  out.reserve(headers.size() + 1);
  for (auto& [k, v] : headers) out.push_back(k + ": " + v);
  out.push_back("authorization: AWS4-HMAC-SHA256 Credential=" + cred.access_key + '/' + scope +
                ", SignedHeaders=" + signed_headers + ", Signature=" + signature);
  return out;
}

// --- XML -----------------------------------------------------------------------------------
// S3 answers in small, flat XML documents. These helpers read elements by name: enough
// for ListObjectsV2, multipart and error answers, and nothing more (no DTDs, no CDATA).

/// Replaces the five predefined entities and numeric references &#N; / &#xN; (UTF-8).
inline std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto end = s.find(';', i);
    if (end == std::string_view::npos || end - i > 10) {
      out += s[i];
      continue;
    }
    auto name = s.substr(i + 1, end - i - 1);
    if (name == "amp") out += '&';
    else if (name == "lt") out += '<';
    else if (name == "gt") out += '>';
    else if (name == "quot") out += '"';
    else if (name == "apos") out += '\'';
    else if (name.size() > 1 && name[0] == '#') {
      std::uint32_t cp = 0;
      bool hexa = name[1] == 'x' || name[1] == 'X', ok = name.size() > (hexa ? 2u : 1u);
      for (char c : name.substr(hexa ? 2 : 1)) {
        int d = c >= '0' && c <= '9' ? c - '0'
                : hexa && c >= 'a' && c <= 'f' ? c - 'a' + 10
                : hexa && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
        if (d < 0 || cp > 0x10FFFF) {
          ok = false;
          break;
        }
        cp = cp * (hexa ? 16 : 10) + static_cast<std::uint32_t>(d);
      }
      if (!ok || cp == 0 || cp > 0x10FFFF) {
        out += s[i];
        continue;
      }
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += s[i];
      continue;
    }
    i = end;
  }
  return out;
}

/// The raw content of each `<tag>...</tag>` in `doc`, in order (elements of that name
/// must not nest; S3's never do). `<tag/>` counts as empty content.
inline std::vector<std::string_view> xml_elements(std::string_view doc, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = '<' + std::string(tag), close = "</" + std::string(tag) + '>';
  std::size_t pos = 0;
  while (out.size() < 100000) {  // bounded: S3 pages hold at most 1000 entries
    auto at = doc.find(open, pos);
    if (at == std::string_view::npos) break;
    auto after = at + open.size();
    if (after >= doc.size()) break;
    if (doc[after] == '/' && after + 1 < doc.size() && doc[after + 1] == '>') {
      out.emplace_back();
      pos = after + 2;
      continue;
    }
    if (doc[after] != '>' && doc[after] != ' ') {  // <tagX...>: another element
      pos = after;
      continue;
    }
    auto gt = doc.find('>', after);
    if (gt == std::string_view::npos) break;
    auto end = doc.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(doc.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

/// The unescaped text of the first `<tag>` in `doc`, or nullopt.
inline std::optional<std::string> xml_text(std::string_view doc, std::string_view tag) {
  auto all = xml_elements(doc, tag);
  if (all.empty()) return std::nullopt;
  return xml_unescape(all.front());
}

/// One page of a ListObjectsV2 answer (with encoding-type=url: keys are decoded here).
struct list_page {
  struct object {
    std::string key;
    std::uint64_t size = 0;
    std::string last_modified;  ///< ISO 8601, as S3 gives it
  };
  std::vector<object> objects;
  std::vector<std::string> prefixes;  ///< CommonPrefixes
  bool truncated = false;
  std::string next_token;
};

inline list_page parse_list_page(std::string_view doc, bool url_encoded) {
  list_page page;
  auto key_text = [&](std::string_view raw) {
    auto s = xml_unescape(raw);
    return url_encoded ? uri_decode(s) : s;
  };
  for (auto c : xml_elements(doc, "Contents")) {
    list_page::object o;
    auto keys = xml_elements(c, "Key");
    if (keys.empty()) continue;
    o.key = key_text(keys.front());
    if (auto size = xml_text(c, "Size")) {
      std::uint64_t v = 0;
      for (char ch : *size) {
        if (ch < '0' || ch > '9' || v > (UINT64_MAX - 9) / 10) break;
        v = v * 10 + static_cast<unsigned>(ch - '0');
      }
      o.size = v;
    }
    o.last_modified = xml_text(c, "LastModified").value_or("");
    page.objects.push_back(std::move(o));
  }
  for (auto c : xml_elements(doc, "CommonPrefixes")) {
    auto p = xml_elements(c, "Prefix");
    if (!p.empty()) page.prefixes.push_back(key_text(p.front()));
  }
  page.truncated = xml_text(doc, "IsTruncated").value_or("") == "true";
  page.next_token = xml_text(doc, "NextContinuationToken").value_or("");
  return page;
}

// --- dates -----------------------------------------------------------------------------------

inline std::optional<std::chrono::system_clock::time_point> from_tm(std::tm& tm) {
  std::time_t t = timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(t);
}

/// "2026-11-29T03:57:33.123Z" (ListObjectsV2's LastModified), to the second.
inline std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view s) {
  std::tm tm{};
  std::string z(s.substr(0, 19));
  const char* end = strptime(z.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return from_tm(tm);
}

/// "Sun, 29 Nov 2026 03:57:33 GMT" (the Last-Modified header).
inline std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  std::tm tm{};
  std::string z(s);
  const char* end = strptime(z.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  return from_tm(tm);
}

}  // namespace coftp::detail::s3
