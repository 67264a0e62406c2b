#include "image/core/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <vector>

#include "common/fd.h"

namespace moor::image {

namespace {
bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
}  // namespace

Result<Digest> Digest::Parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) {
    return FailInvalid("digest \"" + std::string(s) + "\" has no algorithm prefix (want sha256:<64 hex>)");
  }
  auto algo = s.substr(0, colon);
  auto hex = s.substr(colon + 1);
  if (algo != "sha256") {
    return FailInvalid("digest \"" + std::string(s) + "\": unsupported algorithm \"" + std::string(algo) +
                       "\" (only sha256 is supported)");
  }
  if (hex.size() != 64 || !IsLowerHex(hex)) {
    return FailInvalid("digest \"" + std::string(s) + "\" is not sha256:<64 lowercase hex>");
  }
  Digest d;
  d.hex_ = std::string(hex);
  return d;
}

Digest Digest::FromHex(std::string hex) {
  Digest d;
  d.hex_ = std::move(hex);
  return d;
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  Ctx() : md(EVP_MD_CTX_new()) { EVP_DigestInit_ex(md, EVP_sha256(), nullptr); }
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_->md, data, n); }

Digest Sha256::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 15]);
  }
  return Digest::FromHex(std::move(hex));
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

Result<Digest> Sha256OfFd(int fd) {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno("read");
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Finish();
}

Result<Digest> Sha256OfFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno("open \"" + path + "\"");
  return TRY_CTX(Sha256OfFd(fd.get()), "hash \"" + path + "\"");
}

}  // namespace moor::image
