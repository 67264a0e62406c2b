// Content digests ("sha256:<64 hex>") and a streaming SHA-256 (OpenSSL EVP).
// Only sha256 is accepted: it is what every registry and Docker use; other
// algorithms are refused with a message instead of being half-supported.
#pragma once

#include <compare>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::image {

class Digest {
 public:
  Digest() = default;
  // "sha256:<64 lowercase hex>"; anything else is an error naming the input.
  static Result<Digest> Parse(std::string_view s);
  // REQUIRES: hex is 64 lowercase hex characters.
  static Digest FromHex(std::string hex);

  bool empty() const { return hex_.empty(); }
  const std::string& hex() const { return hex_; }
  std::string str() const { return empty() ? std::string() : "sha256:" + hex_; }
  // First 12 hex characters, as `docker images` shows an ID.
  std::string Short() const { return hex_.substr(0, 12); }

  auto operator<=>(const Digest&) const = default;
  bool operator==(const Digest&) const = default;

 private:
  std::string hex_;
};

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Ends this hash; the object is reset for reuse.
  Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Digest Sha256Of(std::string_view data);
// Hashes the whole file (read in large chunks).
Result<Digest> Sha256OfFile(const std::string& path);
Result<Digest> Sha256OfFd(int fd);

}  // namespace moor::image
