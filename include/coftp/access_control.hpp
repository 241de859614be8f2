// coftp/access_control.hpp - IP allow and deny lists in CIDR notation (RFC 4632
// section 3.1 for IPv4, RFC 4291 section 2.3 for IPv6 prefixes).
//
// Sans-I/O: parsing and matching only, no socket, no clock. The server checks the
// lists when it accepts a control connection (see `address_guard`).
//
// Families are kept apart: an IPv4 rule matches IPv4 clients, an IPv6 rule IPv6
// clients. A client arriving as an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, on a
// dual-stack listener) is matched as the IPv4 address it is, and a rule written in the
// mapped form (`::ffff:10.0.0.0/104`) is read as its IPv4 form (`10.0.0.0/8`). So
// `::/0` means "every IPv6 client", never "everyone".
#pragma once

#include <coftp/address.hpp>

#include <asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace coftp {

/// Why a CIDR text was refused.
enum class cidr_errc {
  empty = 1,      ///< nothing to parse
  bad_address,    ///< not an IPv4 or IPv6 address (scope ids such as `%eth0` are refused too)
  bad_prefix,     ///< the prefix length is missing, not a decimal number, or too long for the family
  host_bits_set,  ///< bits beyond the prefix are set (`10.0.0.1/8`): probably a typo, so refused
};

namespace detail {

class cidr_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coftp.cidr"; }
  std::string message(int ev) const override {
    switch (static_cast<cidr_errc>(ev)) {
      case cidr_errc::empty: return "empty address";
      case cidr_errc::bad_address: return "not an IPv4 or IPv6 address";
      case cidr_errc::bad_prefix: return "bad prefix length";
      case cidr_errc::host_bits_set: return "address has bits set beyond the prefix length";
    }
    return "unknown CIDR error";
  }
};

}  // namespace detail

/// The category of `cidr_errc`.
inline const std::error_category& cidr_category() noexcept {
  static const detail::cidr_category_impl cat;
  return cat;
}

inline std::error_code make_error_code(cidr_errc e) noexcept { return {int(e), cidr_category()}; }

/// An address block: a network address and a prefix length.
class cidr {
 public:
  /// `0.0.0.0/32`.
  cidr() = default;

  /// The block of `network`/`prefix`; an IPv4-mapped network with a prefix of at
  /// least 96 becomes its IPv4 form. Bits beyond the prefix are cleared; the prefix is
  /// clamped to the family's length.
  cidr(asio::ip::address network, unsigned prefix) {
    if (network.is_v6() && network.to_v6().is_v4_mapped() && prefix >= 96) {
      network = normalized_address(network);
      prefix -= 96;
    }
    prefix_ = prefix > max_prefix(network) ? max_prefix(network) : prefix;
    network_ = masked(network, prefix_);
  }

  /// Parses `A.B.C.D/N`, `A.B.C.D` (= /32), `X:X::X/N` or `X:X::X` (= /128).
  /// No spaces, no scope ids, no host bits beyond the prefix.
  static std::pair<std::error_code, cidr> parse(std::string_view text) {
    if (text.empty()) return {make_error_code(cidr_errc::empty), cidr{}};
    auto slash = text.find('/');
    std::string_view addr_text = text.substr(0, slash);
    if (addr_text.empty()) return {make_error_code(cidr_errc::empty), cidr{}};
    // Asio accepts "fe80::1%eth0" and would look the interface up: refused here, rules
    // are about addresses, not interfaces.
    if (addr_text.find_first_not_of("0123456789abcdefABCDEF.:") != std::string_view::npos)
      return {make_error_code(cidr_errc::bad_address), cidr{}};
    std::error_code ec;
    auto addr = asio::ip::make_address(std::string(addr_text), ec);
    if (ec) return {make_error_code(cidr_errc::bad_address), cidr{}};
    unsigned prefix = max_prefix(addr);
    if (slash != std::string_view::npos) {
      auto digits = text.substr(slash + 1);
      if (digits.empty() || digits.size() > 3) return {make_error_code(cidr_errc::bad_prefix), cidr{}};
      prefix = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return {make_error_code(cidr_errc::bad_prefix), cidr{}};
        prefix = prefix * 10 + unsigned(c - '0');
      }
      if (prefix > max_prefix(addr)) return {make_error_code(cidr_errc::bad_prefix), cidr{}};
    }
    cidr block(addr, prefix);
    if (normalized_address(addr) != block.network_) return {make_error_code(cidr_errc::host_bits_set), cidr{}};
    return {std::error_code{}, block};
  }

  /// True if `a` (an IPv4-mapped address counts as IPv4) lies in the block.
  bool contains(asio::ip::address a) const {
    a = normalized_address(a);
    if (a.is_v4() != network_.is_v4()) return false;
    return masked(a, prefix_) == network_;
  }

  const asio::ip::address& network() const noexcept { return network_; }
  unsigned prefix() const noexcept { return prefix_; }

  /// `10.0.0.0/8`, `::1/128`.
  std::string to_string() const { return network_.to_string() + "/" + std::to_string(prefix_); }

  friend bool operator==(const cidr&, const cidr&) = default;

 private:
  static unsigned max_prefix(const asio::ip::address& a) noexcept { return a.is_v4() ? 32 : 128; }

  template <std::size_t N>
  static void clear_host_bits(std::array<unsigned char, N>& b, unsigned prefix) noexcept {
    for (std::size_t i = 0; i < N; ++i) {
      unsigned first_bit = unsigned(i) * 8;
      if (prefix >= first_bit + 8) continue;
      unsigned keep = prefix > first_bit ? prefix - first_bit : 0;
      b[i] = static_cast<unsigned char>(b[i] & (0xff00u >> keep));
    }
  }

  static asio::ip::address masked(const asio::ip::address& a, unsigned prefix) {
    if (a.is_v4()) {
      auto b = a.to_v4().to_bytes();
      clear_host_bits(b, prefix);
      return asio::ip::address_v4(b);
    }
    auto b = a.to_v6().to_bytes();
    clear_host_bits(b, prefix);
    return asio::ip::address_v6(b);
  }

  asio::ip::address network_{asio::ip::address_v4()};
  unsigned prefix_ = 32;
};

/// Allow and deny lists. A client is let in when no deny rule matches it and either
/// the allow list is empty or one of its rules matches: deny wins over allow.
class ip_filter {
 public:
  void allow(cidr block) { allow_.push_back(block); }
  void deny(cidr block) { deny_.push_back(block); }

  /// Parses and adds a rule; the error (`cidr_errc`) leaves the lists unchanged.
  std::error_code allow(std::string_view text) { return add(allow_, text); }
  std::error_code deny(std::string_view text) { return add(deny_, text); }

  /// True if `a` may connect.
  bool permits(const asio::ip::address& a) const {
    for (const auto& b : deny_)
      if (b.contains(a)) return false;
    if (allow_.empty()) return true;
    for (const auto& b : allow_)
      if (b.contains(a)) return true;
    return false;
  }

  const std::vector<cidr>& allowed() const noexcept { return allow_; }
  const std::vector<cidr>& denied() const noexcept { return deny_; }

 private:
  static std::error_code add(std::vector<cidr>& list, std::string_view text) {
    auto [ec, block] = cidr::parse(text);
    if (!ec) list.push_back(block);
    return ec;
  }

  std::vector<cidr> allow_;
  std::vector<cidr> deny_;
};

}  // namespace coftp

template <>
struct std::is_error_code_enum<coftp::cidr_errc> : std::true_type {};
