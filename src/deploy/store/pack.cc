#include "deploy/store/pack.h"

#include <string>

#include "deploy/store/release_store.h"

namespace moor::deploy {

void AppendPackEntry(std::string* pack, const image::Digest& d, std::string_view bytes) {
  pack->append(d.hex());
  pack->push_back(' ');
  pack->append(std::to_string(bytes.size()));
  pack->push_back('\n');
  pack->append(bytes);
}

namespace store_detail {
namespace {

bool IsLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

Error BadHeader(size_t offset) {
  return Error::Invalid("pack: bad entry header at byte " + std::to_string(offset) +
                        " (want 64 lowercase hex digits, a space, the size in decimal, a newline); " +
                        std::string(kDeployAgain));
}

}  // namespace

Result<PackEntry> NextPackEntry(std::string_view pack, size_t* pos) {
  const size_t start = *pos;
  std::string_view rest = pack.substr(start);
  if (rest.size() < 67) return Fail(BadHeader(start));  // 64 hex, space, a digit, newline
  for (size_t i = 0; i < 64; ++i) {
    if (!IsLowerHex(rest[i])) return Fail(BadHeader(start + i));
  }
  if (rest[64] != ' ') return Fail(BadHeader(start + 64));
  size_t i = 65;
  int64_t size = 0;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
    // No leading zeros, and at most 18 digits (no overflow).
    if ((i == 66 && rest[65] == '0') || i - 65 >= 18) return Fail(BadHeader(start + i));
    size = size * 10 + (rest[i] - '0');
    ++i;
  }
  if (i == 65 || i >= rest.size() || rest[i] != '\n') return Fail(BadHeader(start + i));
  ++i;
  PackEntry e;
  e.digest = image::Digest::FromHex(std::string(rest.substr(0, 64)));
  e.offset = start;
  const size_t left = rest.size() - i;
  if (static_cast<uint64_t>(size) > left) {
    return Fail(Error::Invalid("pack: entry " + e.digest.str() + " at byte " + std::to_string(start) + " has " +
                               std::to_string(size) + " bytes, but only " + std::to_string(left) +
                               " follow (truncated upload); " + std::string(kDeployAgain)));
  }
  e.bytes = rest.substr(i, static_cast<size_t>(size));
  *pos = start + i + static_cast<size_t>(size);
  return e;
}

Error CorruptUpload(const image::Digest& want, const image::Digest& got) {
  return Error::Invalid("blob " + want.str() + ": content has digest " + got.str() + " (corrupt upload); " +
                        std::string(kDeployAgain));
}

}  // namespace store_detail
}  // namespace moor::deploy
