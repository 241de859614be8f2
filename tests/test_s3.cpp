// S3: the sans-I/O protocol pieces (SigV4 against AWS's published example, XML, URI
// encoding), then s3_storage against a real store - the conformance kit, multipart
// uploads, and a server whose files live in a bucket, store faults included.
//
// The store is the throw-away Ceph RGW that tests/rgw/with-rgw starts (the meson test
// "s3" runs this binary under it). Its address and keys come from the environment:
// COFTP_S3_ENDPOINT, COFTP_S3_BUCKET, COFTP_S3_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY; RGW is configured with a 64 KiB minimum part size, so the
// tests use 64 KiB parts and exercise multipart uploads with small files.
#include <coftp/storage/s3.hpp>
#include <coftp/testing/backend_suite.hpp>

#include <doctest/doctest.h>

#include "ftp_client.hpp"
#include "test_server.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using coftp::storage_errc;
using coftp::testing::random_bytes;
using coftp::testing::read_all;
using coftp::testing::run_sync;
using coftp::testing::write_file;
namespace s3 = coftp::detail::s3;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// The test store's settings, under a key prefix of its own for each call so that
/// every test case starts from an empty tree.
coftp::s3_options store_options(std::string endpoint = env("COFTP_S3_ENDPOINT")) {
  static std::atomic<int> counter{0};
  coftp::s3_options o;
  o.endpoint = std::move(endpoint);
  o.bucket = env("COFTP_S3_BUCKET");
  o.region = env("COFTP_S3_REGION").empty() ? "us-east-1" : env("COFTP_S3_REGION");
  o.prefix = "t" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "/";
  auto cred = coftp::s3_credentials_from_env();
  REQUIRE_MESSAGE(cred.has_value(), "no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: run under tests/rgw/with-rgw");
  REQUIRE_MESSAGE(!o.endpoint.empty(), "no COFTP_S3_ENDPOINT: run under tests/rgw/with-rgw");
  o.credentials = *cred;
  o.part_size = 64 * 1024;
  o.copy_threshold = 64 * 1024;
  o.retry_delay = 20ms;
  return o;
}

struct s3_fixture {
  coftp::s3_storage fs{store_options()};
};

}  // namespace

COFTP_BACKEND_CONFORMANCE(s3_fixture);

TEST_SUITE("s3 protocol") {

TEST_CASE("s3: SigV4 signs AWS's published GET Object example") {
  // docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "GET Object".
  s3::credentials cred{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  s3::signing_input in{"GET", "examplebucket.s3.amazonaws.com", "/test.txt", {}, {{"range", "bytes=0-9"}}};
  std::tm tm{};
  tm.tm_year = 2013 - 1900;
  tm.tm_mon = 4;
  tm.tm_mday = 24;
  auto when = *s3::from_tm(tm);
  auto headers = s3::sign(in, cred, "us-east-1", when);
  CHECK(std::find(headers.begin(), headers.end(), "x-amz-date: 20130524T000000Z") != headers.end());
  CHECK(std::find(headers.begin(), headers.end(), "range: bytes=0-9") != headers.end());
  CHECK(headers.back() ==
        "authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("s3: canonical query strings and URI encoding") {
  CHECK(s3::canonical_query({{"uploads", ""}}) == "uploads=");
  CHECK(s3::canonical_query({{"prefix", "dir/a b+c"}, {"list-type", "2"}, {"delimiter", "/"}}) ==
        "delimiter=%2F&list-type=2&prefix=dir%2Fa%20b%2Bc");
  CHECK(s3::uri_encode("a b/c~d.e_f-g+h", true) == "a%20b/c~d.e_f-g%2Bh");
  CHECK(s3::uri_encode("\xC3\xBC/") == "%C3%BC%2F");
  CHECK(s3::uri_decode("dir%2Fsp%20ace%C3%BC.txt") == "dir/sp ace\xC3\xBC.txt");
  CHECK(s3::uri_decode("100%") == "100%");
  CHECK(s3::uri_decode("%zz%4") == "%zz%4");
  CHECK(s3::sha256_hex("") == s3::empty_payload_hash);
}

TEST_CASE("s3: a ListObjectsV2 page as RGW sends it") {
  // tests/rgw/NOTES.md: url-encoded keys, CommonPrefixes before Contents, clear tokens.
  const std::string doc =
      R"(<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      R"(<EncodingType>url</EncodingType><Name>coftp-test</Name><Prefix>dir/</Prefix><MaxKeys>2</MaxKeys>)"
      R"(<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><CommonPrefixes><Prefix>dir/s%20p%2B%C3%BC/</Prefix>)"
      R"(</CommonPrefixes><Contents><Key>dir%2Fsp%20ace%C3%BC.txt</Key><LastModified>2026-11-29T04:01:58.974Z)"
      R"(</LastModified><ETag>&quot;b793abbd1715656c96128f3bd8b6a146&quot;</ETag><Size>22</Size>)"
      R"(<StorageClass>STANDARD</StorageClass><Type>Normal</Type></Contents><ContinuationToken>dir/a+b)"
      R"(</ContinuationToken><NextContinuationToken>dir/sp ace&amp;ü.txt</NextContinuationToken><KeyCount>2</KeyCount>)"
      R"(</ListBucketResult>)";
  auto page = s3::parse_list_page(doc, true);
  REQUIRE(page.objects.size() == 1);
  CHECK(page.objects[0].key == "dir/sp ace\xC3\xBC.txt");
  CHECK(page.objects[0].size == 22);
  CHECK(page.objects[0].last_modified == "2026-11-29T04:01:58.974Z");
  CHECK(page.prefixes == std::vector<std::string>{"dir/s p+\xC3\xBC/"});
  CHECK(page.truncated);
  CHECK(page.next_token == "dir/sp ace&\xC3\xBC.txt");
  auto t = s3::parse_iso8601(page.objects[0].last_modified);
  REQUIRE(t.has_value());
  CHECK(std::chrono::system_clock::to_time_t(*t) == 1795924918);
  CHECK(s3::parse_http_date("Sun, 29 Nov 2026 04:01:58 GMT") == t);

  auto empty = s3::parse_list_page("<ListBucketResult><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>", true);
  CHECK(empty.objects.empty());
  CHECK_FALSE(empty.truncated);
  CHECK(s3::xml_unescape("&lt;&#65;&#x42;&#x20AC;&bogus;&") == "<AB\xE2\x82\xAC&bogus;&");
  CHECK(s3::xml_text("<Error><Code>NoSuchKey</Code></Error>", "Code") == "NoSuchKey");
  CHECK_FALSE(s3::xml_text("<Error><Codes>x</Codes></Error>", "Code").has_value());
}

TEST_CASE("s3: credentials from a shared-credentials file") {
  coftp_test::temp_dir dir;
  auto file = (dir.path() / "credentials").string();
  {
    std::ofstream out(file);
    out << "[other]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n"
           "[default]\naws_access_key_id = AKID\naws_secret_access_key=SECRET \r\n# comment\n";
  }
  auto c = coftp::s3_credentials_from_file(file);
  REQUIRE(c.has_value());
  CHECK(c->access_key == "AKID");
  CHECK(c->secret_key == "SECRET");
  auto other = coftp::s3_credentials_from_file(file, "other");
  REQUIRE(other.has_value());
  CHECK(other->access_key == "WRONG");
  CHECK_FALSE(coftp::s3_credentials_from_file(file, "missing").has_value());
  CHECK_FALSE(coftp::s3_credentials_from_file((dir.path() / "none").string()).has_value());
  CHECK_THROWS_AS(coftp::s3_storage(coftp::s3_options{}), std::invalid_argument);
}

}  // TEST_SUITE("s3 protocol")
