#include "net/subnet.h"

#include <optional>

#include "common/strings.h"

namespace moor::net {

namespace {

// One dotted-quad component: 1–3 decimal digits, no leading zero (which
// inet_aton would read as octal — refuse the ambiguity), at most 255.
bool ParseOctet(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 3) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 255) return false;
  *out = v;
  return true;
}

std::optional<uint32_t> ParseDottedQuad(std::string_view s) {
  uint32_t addr = 0;
  int parts = 0;
  while (true) {
    size_t dot = s.find('.');
    uint32_t octet = 0;
    if (!ParseOctet(s.substr(0, dot), &octet)) return std::nullopt;
    addr = (addr << 8) | octet;
    ++parts;
    if (dot == std::string_view::npos) break;
    if (parts == 4) return std::nullopt;
    s.remove_prefix(dot + 1);
  }
  if (parts != 4) return std::nullopt;
  return addr;
}

}  // namespace

std::string FormatIpv4(uint32_t a) {
  return (std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
          std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff));
}

std::string Subnet::ToString() const {
  return (FormatIpv4(base) + "/" + std::to_string(prefix));
}

Result<uint32_t> ParseIpv4(std::string_view s) {
  auto addr = ParseDottedQuad(s);
  if (!addr)
    return FailInvalid("invalid IPv4 address \"" + std::string(s) + "\" (expected a form like 10.0.0.1)");
  return *addr;
}

Result<Subnet> ParseSubnet(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return FailInvalid("invalid subnet \"" + std::string(s) + "\": " + std::string(why) +
                       " (expected an IPv4 CIDR like 172.30.0.0/16)");
  };
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return bad("missing /prefix");
  auto addr = ParseDottedQuad(s.substr(0, slash));
  if (!addr) return bad("not an IPv4 address");
  std::string_view prefix_text = s.substr(slash + 1);
  auto prefix = ParseInt(prefix_text);
  // ParseInt accepts signs; a prefix is plain digits.
  if (!prefix || prefix_text.empty() || prefix_text[0] < '0' || prefix_text[0] > '9')
    return bad("bad prefix");
  // Below /8 is not a network anyone means; above /30 leaves no host for a
  // container after the gateway.
  if (*prefix < 8 || *prefix > 30) return bad("prefix must be between 8 and 30");
  Subnet subnet;
  subnet.prefix = static_cast<int>(*prefix);
  subnet.base = *addr & subnet.Mask();
  if (subnet.base != *addr) {
    return FailInvalid("invalid subnet \"" + std::string(s) + "\": host bits are set (did you mean " +
                       subnet.ToString() + "?)");
  }
  return subnet;
}

bool Overlaps(const Subnet& a, const Subnet& b) {
  // Two CIDR blocks overlap exactly when the larger one contains the
  // smaller one's base.
  const Subnet& wider = a.prefix <= b.prefix ? a : b;
  const Subnet& narrower = a.prefix <= b.prefix ? b : a;
  return wider.Contains(narrower.base);
}

}  // namespace moor::net
