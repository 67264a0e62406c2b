// Reference parsing with Docker's grammar and normalisation (distribution/reference):
//   reference := name [":" tag] ["@" digest]
//   name      := [domain "/"] path-component ("/" path-component)*
// The digest is split off first (at '@'), then the tag (a ':' after the last '/').
#include "image/core/reference.h"

namespace moor::image {
namespace {

constexpr std::string_view kDockerDomain = "docker.io";
constexpr size_t kMaxNameLength = 255;  // Docker's limit for domain + path

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsAlnum(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !IsLowerAlnum(c[i])) ++i;
    std::string_view sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool ValidHostComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) return false;
  for (char ch : c) {
    if (!IsAlnum(ch) && ch != '-') return false;
  }
  return true;
}

// host [":" port], host is a dotted name or a bracketed IPv6 address.
bool ValidDomain(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (char ch : d.substr(1, close - 1)) {
      bool hex = IsDigit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
      if (!hex && ch != ':' && ch != '.') return false;
    }
    std::string_view rest = d.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    std::string_view port = rest.substr(1);
    if (port.empty()) return false;
    for (char ch : port) {
      if (!IsDigit(ch)) return false;
    }
    return true;
  }
  size_t colon = d.find(':');
  if (colon != std::string_view::npos) {
    host = d.substr(0, colon);
    std::string_view port = d.substr(colon + 1);
    if (port.empty()) return false;
    for (char ch : port) {
      if (!IsDigit(ch)) return false;
    }
  }
  if (host.empty()) return false;
  size_t pos = 0;
  for (;;) {
    size_t dot = host.find('.', pos);
    if (!ValidHostComponent(host.substr(pos, dot == std::string_view::npos ? dot : dot - pos))) return false;
    if (dot == std::string_view::npos) return true;
    pos = dot + 1;
  }
}

// tag := [\w][\w.-]{0,127}
bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return IsAlnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool Is64Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

std::unexpected<Error> Bad(std::string_view input, std::string_view what) {
  return FailInvalid("invalid reference \"" + std::string(input) + "\": " + std::string(what));
}

}  // namespace

Result<Reference> Reference::Parse(std::string_view s) {
  if (s.empty()) return FailInvalid("invalid reference: the image name is empty");
  if (Is64Hex(s)) {
    return Bad(s, "a 64-character hex string is an image ID, not a name");
  }
  Reference ref;
  std::string_view rest = s;

  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::Parse(rest.substr(at + 1));
    if (!digest) return Bad(s, digest.error().message());
    ref.digest = *digest;
    rest = rest.substr(0, at);
  }
  size_t last_slash = rest.rfind('/');
  size_t last_colon = rest.rfind(':');
  if (last_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || last_colon > last_slash)) {
    std::string_view tag = rest.substr(last_colon + 1);
    if (!ValidTag(tag)) {
      return Bad(s, "tag \"" + std::string(tag) + "\" is not valid (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
    }
    ref.tag = std::string(tag);
    rest = rest.substr(0, last_colon);
  }
  if (rest.empty()) return Bad(s, "the repository name is empty");

  // The first component names a registry host only when it looks like one;
  // an uppercase first component is a host too (repositories are lowercase).
  std::string_view path = rest;
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, slash);
    bool has_upper = false;
    for (char c : first) has_upper |= (c >= 'A' && c <= 'Z');
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || has_upper) {
      if (!ValidDomain(first)) return Bad(s, "registry host \"" + std::string(first) + "\" is not valid");
      ref.domain = std::string(first);
      path = rest.substr(slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io") ref.domain = std::string(kDockerDomain);

  for (char c : path) {
    if (c >= 'A' && c <= 'Z') return Bad(s, "repository name must be lowercase");
  }
  if (path.empty()) return Bad(s, "the repository name is empty");
  size_t pos = 0;
  for (;;) {
    size_t next = path.find('/', pos);
    std::string_view comp = path.substr(pos, next == std::string_view::npos ? next : next - pos);
    if (!ValidPathComponent(comp)) {
      return Bad(s, comp.empty() ? std::string("empty path component")
                                 : "path component \"" + std::string(comp) +
                                       "\" is not valid (lowercase letters and digits, separated by "
                                       "'.', '_', '__' or '-')");
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  ref.path = std::string(path);
  if (ref.domain == kDockerDomain && ref.path.find('/') == std::string::npos)
    ref.path = "library/" + ref.path;
  if (ref.domain.size() + 1 + ref.path.size() > kMaxNameLength) {
    return Bad(s, "repository name is longer than 255 characters");
  }
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

std::string Reference::Repository() const {
  return domain + "/" + path;
}

std::string Reference::String() const {
  std::string out = Repository();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::Familiar() const {
  std::string out;
  if (domain == kDockerDomain) {
    std::string_view p = path;
    constexpr std::string_view kLibrary = "library/";
    if (p.starts_with(kLibrary) && p.substr(kLibrary.size()).find('/') == std::string_view::npos) {
      p.remove_prefix(kLibrary.size());
    }
    out = std::string(p);
  } else {
    out = Repository();
  }
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

std::string Reference::ManifestRef() const {
  return digest ? digest->str() : tag;
}

std::string Reference::RegistryHost() const {
  return domain == kDockerDomain ? std::string("registry-1.docker.io") : domain;
}

}  // namespace moor::image
