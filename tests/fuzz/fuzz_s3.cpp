// fuzz_s3: what the S3 backend reads from the store and how it encodes what it sends
// (include/coftp/storage/s3/protocol.hpp): the XML scanner behind ListObjectsV2,
// multipart and error answers, entity and percent decoding, URI encoding.
//
// Input: the text of a store's answer. Properties:
// - every element content xml_elements returns lies inside the document;
// - xml_unescape never makes text longer (each reference stands for fewer bytes);
// - parse_list_page holds at most as many entries as the document has elements;
// - uri_decode(uri_encode(x)) == x, with or without '/' kept, and uri_encode writes only
//   unreserved characters, '/' (when kept) and %XY escapes;
// - canonical_query's pairs come out sorted.
#include <coftp/storage/s3/protocol.hpp>

#include "check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace s3 = coftp::detail::s3;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view doc(reinterpret_cast<const char*>(data), size);

  for (std::string_view tag : {"Contents", "Key", "Prefix", "CommonPrefixes", "UploadId", "Code"}) {
    for (auto e : s3::xml_elements(doc, tag)) {
      FUZZ_CHECK(e.empty() || (e.data() >= doc.data() && e.data() + e.size() <= doc.data() + doc.size()));
    }
  }
  FUZZ_CHECK(s3::xml_unescape(doc).size() <= doc.size());

  for (bool url : {false, true}) {
    auto page = s3::parse_list_page(doc, url);
    FUZZ_CHECK(page.objects.size() <= s3::xml_elements(doc, "Contents").size());
    FUZZ_CHECK(page.prefixes.size() <= s3::xml_elements(doc, "CommonPrefixes").size());
    for (auto& o : page.objects) FUZZ_CHECK(o.key.size() <= doc.size());
  }

  for (bool keep_slash : {false, true}) {
    const std::string enc = s3::uri_encode(doc, keep_slash);
    FUZZ_CHECK(s3::uri_decode(enc) == doc);
    for (std::size_t i = 0; i < enc.size(); ++i) {
      char c = enc[i];
      bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '.' || c == '_' || c == '~' || (keep_slash && c == '/');
      FUZZ_CHECK(plain || (c == '%' && i + 2 < enc.size()));
      if (c == '%') i += 2;
    }
  }

  // The document cut in two as a query's name and value, next to fixed pairs.
  const auto half = doc.size() / 2;
  auto q = s3::canonical_query({{std::string(doc.substr(0, half)), std::string(doc.substr(half))},
                                {"list-type", "2"}, {"prefix", std::string(doc)}});
  std::vector<std::string> names;
  for (std::size_t at = 0; at <= q.size();) {
    auto amp = q.find('&', at);
    if (amp == std::string::npos) amp = q.size();
    auto pair = q.substr(at, amp - at);
    names.push_back(pair.substr(0, pair.find('=')));
    at = amp + 1;
  }
  FUZZ_CHECK(names.size() == 3);
  FUZZ_CHECK(std::is_sorted(names.begin(), names.end()));
  return 0;
}
