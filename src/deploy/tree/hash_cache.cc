#include "deploy/tree/hash_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/fd.h"
#include "common/file.h"
#include "image/core/digest.h"

namespace moor::deploy {

namespace {

constexpr std::string_view kMagic = "MOORHC1";
// Limits that keep a damaged file from asking for absurd allocations.
constexpr uint32_t kMaxPath = 1 << 16;
constexpr uint32_t kMaxCount = 1 << 26;

class Writer {
 public:
  void Bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  template <class T>
  void Int(T v) {
    uint8_t b[sizeof(T)];
    auto u = static_cast<std::make_unsigned_t<T>>(v);
    for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<uint8_t>(u >> (8 * i));
    Bytes(b, sizeof b);
  }
  void Str(std::string_view s) {
    Int<uint32_t>(static_cast<uint32_t>(s.size()));
    Bytes(s.data(), s.size());
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <class T>
  bool Int(T& v) {
    if (s_.size() < sizeof(T)) return false;
    std::make_unsigned_t<T> u = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      u |= static_cast<std::make_unsigned_t<T>>(static_cast<uint8_t>(s_[i])) << (8 * i);
    v = static_cast<T>(u);
    s_.remove_prefix(sizeof(T));
    return true;
  }
  bool Raw(void* p, size_t n) {
    if (s_.size() < n) return false;
    std::memcpy(p, s_.data(), n);
    s_.remove_prefix(n);
    return true;
  }
  template <class Len>
  bool Str(std::string_view& out) {
    Len n = 0;
    if (!Int(n) || n > kMaxPath || s_.size() < n) return false;
    out = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  bool Flag(bool& b) {
    uint8_t v = 0;
    if (!Int(v) || v > 1) return false;
    b = v != 0;
    return true;
  }
  bool empty() const { return s_.empty(); }

 private:
  std::string_view s_;
};

template <class Map>
std::vector<const typename Map::value_type*> SortedByPath(const Map& m) {
  std::vector<const typename Map::value_type*> v;
  v.reserve(m.size());
  for (const auto& kv : m) v.push_back(&kv);
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->first < b->first; });
  return v;
}

// The whole file in one read when its size is known (a cache file is about 100 bytes a file).
Result<std::string> ReadWhole(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return FailErrno("open \"" + path + "\"");
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return FailErrno("stat \"" + path + "\"");
  if (!S_ISREG(st.st_mode)) return FailInvalid("\"" + path + "\" is not a regular file");
  std::string out(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t len = 0;
  for (;;) {
    if (len == out.size()) out.resize(out.size() * 2);
    ssize_t n = read(fd.get(), out.data() + len, out.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read \"" + path + "\"");
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  out.resize(len);
  return out;
}

}  // namespace

std::string HexOf(const std::array<uint8_t, 32>& raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  char s[64];
  for (size_t i = 0; i < 32; ++i) {
    s[2 * i] = kHex[raw[i] >> 4];
    s[2 * i + 1] = kHex[raw[i] & 15];
  }
  return std::string(s, sizeof s);
}

std::array<uint8_t, 32> RawOf(std::string_view hex) {
  auto nibble = [](char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
  std::array<uint8_t, 32> raw{};
  for (size_t i = 0; i < 32 && 2 * i + 1 < hex.size(); ++i) {
    raw[i] = static_cast<uint8_t>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return raw;
}

Result<HashCache> HashCache::Decode(std::string_view bytes, const std::array<uint8_t, 32>& rules_digest) {
  if (bytes.size() < kMagic.size() + 32 || !bytes.starts_with(kMagic)) return FailInvalid("not a moor hash cache");
  std::string_view body = bytes.substr(0, bytes.size() - 32);
  std::array<uint8_t, 32> sum{};
  std::memcpy(sum.data(), bytes.data() + body.size(), sum.size());
  if (image::Sha256Of(body).hex() != HexOf(sum)) {
    return FailInvalid("checksum mismatch");
  }
  Reader r(body.substr(kMagic.size()));
  uint32_t version = 0, nfiles = 0, ndirs = 0;
  int64_t written = 0;
  std::array<uint8_t, 32> saved_rules{};
  if (!r.Int(version)) return FailInvalid("cut short");
  if (version != kVersion) return FailInvalid("version " + std::to_string(version) + " is not supported");
  if (!r.Int(written) || !r.Raw(saved_rules.data(), 32) || !r.Int(nfiles) || !r.Int(ndirs) || nfiles > kMaxCount ||
      ndirs > kMaxCount) {
    return FailInvalid("bad header");
  }
  HashCache c;
  c.rules_digest_ = rules_digest;
  c.files_.reserve(nfiles);
  for (uint32_t i = 0; i < nfiles; ++i) {
    std::string_view path;
    CachedFile f;
    if (!r.Str<uint32_t>(path) || !r.Int(f.key.dev) || !r.Int(f.key.ino) || !r.Int(f.key.size) ||
        !r.Int(f.key.mtime_ns) || !r.Int(f.key.ctime_ns) || !r.Int(f.key.mode) || !r.Raw(f.sha256.data(), 32) ||
        !r.Flag(f.racy)) {
      return FailInvalid("bad file entry " + std::to_string(i));
    }
    c.files_.emplace(std::string(path), Slot<CachedFile>{f, false});
  }
  bool rules_match = saved_rules == rules_digest;
  if (rules_match) c.dirs_.reserve(ndirs);
  for (uint32_t i = 0; i < ndirs; ++i) {
    std::string_view path;
    CachedDir d;
    uint32_t n = 0;
    if (!r.Str<uint32_t>(path) || !r.Int(d.ino) || !r.Int(d.mtime_ns) || !r.Int(d.ctime_ns) || !r.Flag(d.racy) ||
        !r.Int(n) || n > kMaxCount) {
      return FailInvalid("bad directory entry " + std::to_string(i));
    }
    d.names.reserve(std::min<uint32_t>(n, 1 << 16));
    for (uint32_t k = 0; k < n; ++k) {
      std::string_view name;
      CachedName cn;
      if (!r.Str<uint16_t>(name) || !r.Int(cn.type) || !r.Flag(cn.excluded)) {
        return FailInvalid("bad directory entry " + std::to_string(i));
      }
      cn.name = std::string(name);
      d.names.push_back(std::move(cn));
    }
    if (rules_match) c.dirs_.emplace(std::string(path), Slot<CachedDir>{std::move(d), false});
  }
  if (!r.empty()) return FailInvalid("trailing bytes");
  // Directory records made under other ignore rules are dropped: saving is needed.
  c.dirty_ = !rules_match && ndirs > 0;
  return c;
}

HashCache HashCache::Load(const std::string& path, const std::array<uint8_t, 32>& rules_digest, bool* damaged) {
  if (damaged) *damaged = false;
  HashCache empty;
  empty.rules_digest_ = rules_digest;
  auto bytes = ReadWhole(path);
  if (!bytes) {
    if (damaged && bytes.error().errnum() != ENOENT) *damaged = true;
    return empty;
  }
  auto c = Decode(*bytes, rules_digest);
  if (!c) {
    if (damaged) *damaged = true;
    return empty;
  }
  return std::move(*c);
}

std::string HashCache::Encode(int64_t now_ns) const {
  Writer w;
  w.out().reserve(64 + files_.size() * 120 + dirs_.size() * 256);
  w.Bytes(kMagic.data(), kMagic.size());
  w.Int<uint32_t>(kVersion);
  w.Int<int64_t>(now_ns);
  w.Bytes(rules_digest_.data(), 32);
  w.Int<uint32_t>(static_cast<uint32_t>(files_.size()));
  w.Int<uint32_t>(static_cast<uint32_t>(dirs_.size()));
  for (const auto* kv : SortedByPath(files_)) {
    const CachedFile& f = kv->second.value;
    w.Str(kv->first);
    w.Int(f.key.dev);
    w.Int(f.key.ino);
    w.Int(f.key.size);
    w.Int(f.key.mtime_ns);
    w.Int(f.key.ctime_ns);
    w.Int(f.key.mode);
    w.Bytes(f.sha256.data(), 32);
    w.Int<uint8_t>(f.racy ? 1 : 0);
  }
  for (const auto* kv : SortedByPath(dirs_)) {
    const CachedDir& d = kv->second.value;
    w.Str(kv->first);
    w.Int(d.ino);
    w.Int(d.mtime_ns);
    w.Int(d.ctime_ns);
    w.Int<uint8_t>(d.racy ? 1 : 0);
    w.Int<uint32_t>(static_cast<uint32_t>(d.names.size()));
    for (const auto& n : d.names) {
      w.Int<uint16_t>(static_cast<uint16_t>(n.name.size()));
      w.Bytes(n.name.data(), n.name.size());
      w.Int(n.type);
      w.Int<uint8_t>(n.excluded ? 1 : 0);
    }
  }
  auto sum = RawOf(image::Sha256Of(w.out()).hex());
  w.Bytes(sum.data(), sum.size());
  return std::move(w.out());
}

Result<void> HashCache::Save(const std::string& path, int64_t now_ns) const {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) TRY(MkdirAll(path.substr(0, slash), 0700));
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  std::string bytes = Encode(now_ns);
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno("create \"" + tmp + "\"");
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = Error::FromErrno("write \"" + tmp + "\"");
      unlink(tmp.c_str());
      return Fail(std::move(e));
    }
    off += static_cast<size_t>(n);
  }
  fd.Reset();
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = Error::FromErrno("rename \"" + tmp + "\"");
    unlink(tmp.c_str());
    return Fail(std::move(e));
  }
  return {};
}

const CachedFile* HashCache::UseFile(std::string_view path) {
  auto it = files_.find(path);
  if (it == files_.end()) return nullptr;
  seen_files_ += !std::exchange(it->second.seen, true);
  return &it->second.value;
}

const CachedDir* HashCache::UseDir(std::string_view path) {
  auto it = dirs_.find(path);
  if (it == dirs_.end()) return nullptr;
  seen_dirs_ += !std::exchange(it->second.seen, true);
  return &it->second.value;
}

void HashCache::PutFile(std::string_view path, const CachedFile& f) {
  auto it = files_.find(path);
  if (it == files_.end()) {
    files_.emplace(std::string(path), Slot<CachedFile>{f, true});
    ++seen_files_;
    dirty_ = true;
    return;
  }
  if (!(it->second.value == f)) {
    it->second.value = f;
    dirty_ = true;
  }
  seen_files_ += !std::exchange(it->second.seen, true);
}

void HashCache::PutDir(std::string_view path, CachedDir d) {
  auto it = dirs_.find(path);
  if (it == dirs_.end()) {
    dirs_.emplace(std::string(path), Slot<CachedDir>{std::move(d), true});
    ++seen_dirs_;
    dirty_ = true;
    return;
  }
  if (!(it->second.value == d)) {
    it->second.value = std::move(d);
    dirty_ = true;
  }
  seen_dirs_ += !std::exchange(it->second.seen, true);
}

bool HashCache::SameEntries(const HashCache& o) const {
  return rules_digest_ == o.rules_digest_ && files_ == o.files_ && dirs_ == o.dirs_;
}

void HashCache::DropUnseen() {
  if (seen_files_ < files_.size()) dirty_ |= std::erase_if(files_, [](const auto& kv) { return !kv.second.seen; }) > 0;
  if (seen_dirs_ < dirs_.size()) dirty_ |= std::erase_if(dirs_, [](const auto& kv) { return !kv.second.seen; }) > 0;
  seen_files_ = files_.size();
  seen_dirs_ = dirs_.size();
}

}  // namespace moor::deploy
