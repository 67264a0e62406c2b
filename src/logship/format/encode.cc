// Wire encoders of the log outputs. They run once per record per output at
// up to a million records a second, so: no allocation besides growing *out,
// runs of plain ASCII appended in bulk (UTF-8 repair only where a byte says
// so), the date-time text formatted once per second, and app fields merged by
// walking their text instead of building a DOM.
#include "logship/format/encode.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <string>
#include <unordered_map>

namespace moor::logship {
namespace {

// ---------------------------------------------------------------- JSON text

// Bytes a JSON string can carry as they are: printable ASCII but '"' and '\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

// Nonzero when one of the 8 bytes of w is not plain: below 0x20, '"', '\',
// or ≥ 0x80 (the classic "has byte less than / equal to" word tricks).
inline uint64_t NotPlainMask(uint64_t w) {
  uint64_t below = (w - kOnes * 0x20) & ~w;
  uint64_t q = w ^ (kOnes * '"');
  uint64_t bs = w ^ (kOnes * '\\');
  return (below | ((q - kOnes) & ~q) | ((bs - kOnes) & ~bs) | w) & kHighBits;
}

// Length of the plain run at the start of p[0..n).
inline size_t PlainRun(const char* p, size_t n) {
  size_t i = 0;
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (NotPlainMask(w) != 0) break;
    i += 8;
  }
  while (i < n && kPlain[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
// surrogates, ≤ U+10FFFF), 0 when the bytes there are not one.
size_t Utf8SequenceLength(const unsigned char* p, size_t n) {
  unsigned c = p[0];
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
  }
  return len;
}

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

void AppendEscapedAscii(unsigned char c, std::string* out) {
  switch (c) {
    case '"':
      out->append("\\\"");
      return;
    case '\\':
      out->append("\\\\");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    default: {
      char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(u, 6);
    }
  }
}

// The string's content (no quotes): escaped, invalid UTF-8 bytes replaced
// one by one with U+FFFD.
void AppendJsonEscaped(std::string_view s, std::string* out) {
  const char* p = s.data();
  size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    size_t run = PlainRun(p + i, n - i);
    out->append(p + i, run);
    i += run;
    if (i == n) break;
    auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x80) {
      AppendEscapedAscii(c, out);
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(p + i), n - i);
    if (len == 0) {
      out->append(kReplacement);
      ++i;
    } else {
      out->append(p + i, len);
      i += len;
    }
  }
}

// ---------------------------------------------------------------- time

// "YYYY-MM-DDTHH:MM:SS" of one second, per thread: records come in time
// order, so nearly every record hits the cache and gmtime_r runs once a second.
struct DateTimeCache {
  int64_t second = INT64_MIN;
  char text[40] = {};
  size_t len = 0;
};
thread_local DateTimeCache tl_datetime;

std::string_view DateTimeText(int64_t second) {
  DateTimeCache& c = tl_datetime;
  if (c.second != second || c.len == 0) {
    time_t t = static_cast<time_t>(second);
    struct tm tm {};
    if (gmtime_r(&t, &tm) == nullptr) tm = {};
    int n = snprintf(c.text, sizeof c.text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    c.len = n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof c.text - 1) : 0;
    c.second = second;
  }
  return {c.text, c.len};
}

// Unix ns → (second, ns within it), flooring for times before 1970.
inline void SplitNs(int64_t unix_ns, int64_t* second, uint32_t* nanos) {
  int64_t s = unix_ns / 1'000'000'000;
  int64_t r = unix_ns % 1'000'000'000;
  if (r < 0) {
    r += 1'000'000'000;
    --s;
  }
  *second = s;
  *nanos = static_cast<uint32_t>(r);
}

// v as exactly width digits (v < 10^width).
inline void AppendFixedDigits(uint32_t v, int width, std::string* out) {
  char buf[10];
  for (int k = width - 1; k >= 0; --k) {
    buf[k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out->append(buf, static_cast<size_t>(width));
}

template <class Int>
inline void AppendInt(Int v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out->append(buf, end);
}

// RFC 5424 wants at most 6 fraction digits.
void AppendRfc3339Micro(int64_t unix_ns, std::string* out) {
  int64_t second;
  uint32_t nanos;
  SplitNs(unix_ns, &second, &nanos);
  out->append(DateTimeText(second));
  out->push_back('.');
  AppendFixedDigits(nanos / 1000, 6, out);
  out->push_back('Z');
}

// ---------------------------------------------------------------- app fields

// Walks the members of a JSON object's text (Record::fields, as ParseAppJson
// made it) without building a DOM. Strict: a member is only handed out once
// its key and value were checked to be well-formed JSON (valid UTF-8, no raw
// control characters), so merging never emits broken JSON even when the
// spool hands back damaged bytes — the walk just stops there.
class MemberWalker {
 public:
  explicit MemberWalker(std::string_view s) : s_(s) {
    SkipWs();
    open_ = i_ < s_.size() && s_[i_] == '{';
    if (open_) ++i_;
  }

  // key: the raw text between the quotes (escapes as written); value: the
  // value's JSON text. false at the end of the object or at malformed text.
  bool Next(std::string_view* key, std::string_view* value) {
    if (!open_ || done_) return false;
    SkipWs();
    if (!first_) {
      if (i_ < s_.size() && s_[i_] == '}') return Stop();
      if (i_ >= s_.size() || s_[i_] != ',') return Stop();
      ++i_;
      SkipWs();
    } else if (i_ < s_.size() && s_[i_] == '}') {
      return Stop();
    }
    first_ = false;
    size_t kstart = i_;
    if (!SkipString()) return Stop();
    *key = s_.substr(kstart + 1, i_ - kstart - 2);
    SkipWs();
    if (i_ >= s_.size() || s_[i_] != ':') return Stop();
    ++i_;
    SkipWs();
    size_t vstart = i_;
    if (!SkipValue(0)) return Stop();
    *value = s_.substr(vstart, i_ - vstart);
    return true;
  }

 private:
  bool Stop() {
    done_ = true;
    return false;
  }
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool SkipString() {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    ++i_;
    while (i_ < s_.size()) {
      size_t run = PlainRun(s_.data() + i_, s_.size() - i_);
      i_ += run;
      if (i_ >= s_.size()) return false;
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return false;
        char e = s_[i_ + 1];
        if (e == 'u') {
          if (i_ + 6 > s_.size()) return false;
          for (size_t k = i_ + 2; k < i_ + 6; ++k) {
            if (!std::isxdigit(static_cast<unsigned char>(s_[k]))) return false;
          }
          i_ += 6;
        } else if (std::strchr("\"\\/bfnrt", e) != nullptr && e != '\0') {
          i_ += 2;
        } else {
          return false;
        }
        continue;
      }
      if (c < 0x20) return false;
      size_t len = Utf8SequenceLength(reinterpret_cast<const unsigned char*>(s_.data() + i_), s_.size() - i_);
      if (len == 0) return false;
      i_ += len;
    }
    return false;
  }
  bool SkipDigits() {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  // A JSON number whose value fits a double: receivers (and nlohmann)
  // refuse "1e999" although the grammar allows it. Conservative: the value is
  // below 10^(integer digits + exponent), which must stay ≤ 10^308.
  bool SkipNumber() {
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    int64_t magnitude = 0;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else {
      size_t start = i_;
      if (!SkipDigits()) return false;
      magnitude = static_cast<int64_t>(i_ - start);
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!SkipDigits()) return false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      bool negative = false;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) negative = s_[i_++] == '-';
      int64_t exponent = 0;
      size_t start = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        exponent = std::min<int64_t>(exponent * 10 + (s_[i_] - '0'), 1'000'000);
        ++i_;
      }
      if (i_ == start) return false;
      magnitude += negative ? -exponent : exponent;
    }
    return magnitude <= 308;
  }
  bool SkipLiteral(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool SkipValue(int depth) {
    if (depth > 64 || i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') return SkipString();
    if (c == 't') return SkipLiteral("true");
    if (c == 'f') return SkipLiteral("false");
    if (c == 'n') return SkipLiteral("null");
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      ++i_;
      SkipWs();
      if (i_ < s_.size() && s_[i_] == close) {
        ++i_;
        return true;
      }
      while (true) {
        if (c == '{') {
          if (!SkipString()) return false;
          SkipWs();
          if (i_ >= s_.size() || s_[i_] != ':') return false;
          ++i_;
          SkipWs();
        }
        if (!SkipValue(depth + 1)) return false;
        SkipWs();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == close) {
          ++i_;
          return true;
        }
        if (s_[i_] != ',') return false;
        ++i_;
        SkipWs();
      }
    }
    return SkipNumber();
  }

  std::string_view s_;
  size_t i_ = 0;
  bool open_ = false;
  bool first_ = true;
  bool done_ = false;
};

bool IsOneOf(std::string_view key, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

// ---------------------------------------------------------------- labels

struct LabelField {
  std::string_view name;
  std::string SourceMeta::*member;
};

// The json_lines/file labels after "stream", in output order.
constexpr LabelField kJsonLabels[] = {
    {"service", &SourceMeta::service},
    {"container", &SourceMeta::container},
    {"container_id", &SourceMeta::container_id},
    {"image", &SourceMeta::image},
    {"release", &SourceMeta::release},
    {"node", &SourceMeta::node},
    {"app", &SourceMeta::app},
};

// GELF additional fields ("_" + name); node is the host.
constexpr LabelField kGelfLabels[] = {
    {"service", &SourceMeta::service},           {"container", &SourceMeta::container},
    {"container_id", &SourceMeta::container_id}, {"image", &SourceMeta::image},
    {"release", &SourceMeta::release},           {"app", &SourceMeta::app},
};

// Loki stream labels (stream itself comes last); container_id and image go
// to structured metadata.
constexpr LabelField kLokiLabels[] = {
    {"service", &SourceMeta::service}, {"container", &SourceMeta::container},
    {"release", &SourceMeta::release}, {"node", &SourceMeta::node},
    {"app", &SourceMeta::app},
};

// "key":value pairs as ,"k":"v" (the object is already open).
void AppendMember(std::string_view key, std::string_view value, std::string* out) {
  out->append(",\"");
  out->append(key);
  out->append("\":");
  AppendJsonString(value, out);
}

// ---------------------------------------------------------------- syslog

// A header field of RFC 5424: 1..max PRINTUSASCII or NILVALUE. Other bytes
// become '_' (a space would shift every later field).
void AppendSyslogField(std::string_view v, size_t max, std::string* out) {
  if (v.empty()) {
    out->push_back('-');
    return;
  }
  size_t n = std::min(v.size(), max);
  size_t ok = 0;
  while (ok < n && v[ok] >= 33 && v[ok] <= 126) ++ok;
  out->append(v.data(), ok);  // the usual case: all of it
  for (size_t k = ok; k < n; ++k) {
    auto c = static_cast<unsigned char>(v[k]);
    out->push_back(c >= 33 && c <= 126 ? static_cast<char>(c) : '_');
  }
}

// PARAM-VALUE: '"', '\' and ']' escaped with a backslash.
void AppendSdValue(std::string_view v, std::string* out) {
  size_t start = 0;
  for (size_t k = 0; k < v.size(); ++k) {
    char c = v[k];
    if (c == '"' || c == '\\' || c == ']') {
      out->append(v.data() + start, k - start);
      out->push_back('\\');
      out->push_back(c);
      start = k + 1;
    }
  }
  out->append(v.data() + start, v.size() - start);
}

const SourceMeta& EmptyMeta() {
  static const SourceMeta empty;
  return empty;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  AppendJsonEscaped(s, out);
  out->push_back('"');
}

void AppendRfc3339Nano(int64_t unix_ns, std::string* out) {
  int64_t second;
  uint32_t nanos;
  SplitNs(unix_ns, &second, &nanos);
  out->append(DateTimeText(second));
  out->push_back('.');
  AppendFixedDigits(nanos, 9, out);
  out->push_back('Z');
}

void EncodeJsonLine(const Record& r, const SourceMeta& s, std::string* out) {
  out->append("{\"@timestamp\":\"");
  AppendRfc3339Nano(r.time_ns, out);
  out->append("\",\"message\":");
  AppendJsonString(r.text, out);
  out->append(",\"stream\":\"");
  out->append(StreamName(r.stream));
  out->push_back('"');
  for (const auto& l : kJsonLabels) {
    const std::string& v = s.*l.member;
    if (!v.empty()) AppendMember(l.name, v, out);
  }
  if (!r.fields.empty()) {
    MemberWalker walk(r.fields);
    std::string_view key, value;
    while (walk.Next(&key, &value)) {
      out->append(",\"");
      if (IsOneOf(key, {"@timestamp", "message", "stream", "service", "container", "container_id", "image", "release",
                        "node", "app"})) {
        out->append("app_");
      }
      out->append(key);
      out->append("\":");
      out->append(value);
    }
  }
  out->append("}\n");
}

void EncodeGelf(const Record& r, const SourceMeta& s, std::string* out) {
  out->append("{\"version\":\"1.1\",\"host\":");
  AppendJsonString(s.node.empty() ? std::string_view("-") : std::string_view(s.node), out);
  std::string_view text = r.text;
  size_t nl = text.find('\n');
  std::string_view first = text.substr(0, nl);
  // short_message is required and may not be empty.
  out->append(",\"short_message\":");
  AppendJsonString(first.empty() ? std::string_view("-") : first, out);
  if (nl != std::string_view::npos) {
    out->append(",\"full_message\":");
    AppendJsonString(text, out);
  }
  int64_t second;
  uint32_t nanos;
  SplitNs(std::max<int64_t>(r.time_ns, 0), &second, &nanos);
  out->append(",\"timestamp\":");
  AppendInt(second, out);
  out->push_back('.');
  AppendFixedDigits(nanos / 1000, 6, out);
  out->append(",\"level\":");
  out->push_back(r.stream == Stream::kStderr ? '3' : '6');
  for (const auto& l : kGelfLabels) {
    const std::string& v = s.*l.member;
    if (v.empty()) continue;
    out->append(",\"_");
    out->append(l.name);
    out->append("\":");
    AppendJsonString(v, out);
  }
  out->append(",\"_stream\":\"");
  out->append(StreamName(r.stream));
  out->push_back('"');
  if (!r.fields.empty()) {
    MemberWalker walk(r.fields);
    std::string_view key, value;
    while (walk.Next(&key, &value)) {
      // GELF values are strings or numbers; null says nothing.
      if (key.empty() || value == "null") continue;
      out->append(",\"_");
      // "_id" is reserved by GELF; moor's own fields win.
      if (IsOneOf(key, {"id", "service", "container", "container_id", "image", "release", "app", "stream"})) {
        out->append("app_");
      }
      // Field names allow word characters, '.' and '-' only.
      for (char c : key) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                  c == '-';
        out->push_back(ok ? c : '_');
      }
      out->append("\":");
      char v0 = value.front();
      if (v0 == '"' || v0 == '-' || (v0 >= '0' && v0 <= '9')) {
        out->append(value);
      } else {
        // true/false, objects and arrays travel as their JSON text.
        AppendJsonString(value, out);
      }
    }
  }
  out->push_back('}');
}

void GelfTcpFrame(std::string_view gelf, std::string* out) {
  out->append(gelf);
  out->push_back('\0');
}

std::vector<std::string> GelfChunks(std::string_view gelf, uint64_t message_id, size_t chunk_size) {
  constexpr size_t kHeader = 12;
  constexpr size_t kMaxChunks = 128;
  std::vector<std::string> chunks;
  if (gelf.size() <= chunk_size) {
    chunks.emplace_back(gelf);
    return chunks;
  }
  if (chunk_size <= kHeader) return chunks;
  size_t payload = chunk_size - kHeader;
  size_t count = (gelf.size() + payload - 1) / payload;
  if (count > kMaxChunks) return chunks;
  chunks.reserve(count);
  for (size_t seq = 0; seq < count; ++seq) {
    std::string c;
    std::string_view part = gelf.substr(seq * payload, payload);
    c.reserve(kHeader + part.size());
    c.push_back('\x1e');
    c.push_back('\x0f');
    for (int b = 7; b >= 0; --b) c.push_back(static_cast<char>((message_id >> (8 * b)) & 0xff));
    c.push_back(static_cast<char>(seq));
    c.push_back(static_cast<char>(count));
    c.append(part);
    chunks.push_back(std::move(c));
  }
  return chunks;
}

void EncodeSyslog5424(const Record& r, const SourceMeta& s, const SyslogOptions& o, std::string* out) {
  int facility = std::clamp(o.facility, 0, 23);
  int pri = facility * 8 + (r.stream == Stream::kStderr ? 3 : 6);
  out->push_back('<');
  AppendInt(pri, out);
  out->append(">1 ");
  AppendRfc3339Micro(r.time_ns, out);
  out->push_back(' ');
  AppendSyslogField(s.node, 255, out);
  out->push_back(' ');
  AppendSyslogField(s.service.empty() ? s.container : s.service, 48, out);
  out->push_back(' ');
  AppendSyslogField(s.container, 128, out);
  out->push_back(' ');
  AppendSyslogField(StreamName(r.stream), 32, out);
  out->push_back(' ');
  const std::pair<std::string_view, const std::string*> params[] = {
      {"container_id", &s.container_id}, {"image", &s.image}, {"release", &s.release}, {"app", &s.app}};
  bool any = false;
  for (const auto& [name, value] : params) {
    if (value->empty()) continue;
    out->append(any ? " " : "[moor@32473 ");
    any = true;
    out->append(name);
    out->append("=\"");
    AppendSdValue(*value, out);
    out->push_back('"');
  }
  out->append(any ? "] " : "- ");
  out->append(r.text);
}

void OctetCountFrame(std::string_view msg, std::string* out) {
  AppendInt(msg.size(), out);
  out->push_back(' ');
  out->append(msg);
}

void EncodeLokiPush(const std::vector<std::pair<Record, const SourceMeta*>>& batch,
                    const std::vector<LokiLabel>& extra_labels, std::string* out) {
  // Label text per (source, stream), then one group per distinct label text:
  // sources whose labels are equal (a restarted container) share a stream.
  struct Group {
    std::string labels;  // the {"name":"value",…} object
    std::vector<size_t> records;
  };
  std::vector<Group> groups;
  std::unordered_map<std::string, size_t> by_labels;
  std::unordered_map<const SourceMeta*, std::array<size_t, 2>> by_source;
  constexpr size_t kUnset = SIZE_MAX;

  for (size_t k = 0; k < batch.size(); ++k) {
    const auto& [rec, meta_ptr] = batch[k];
    auto [it, inserted] = by_source.try_emplace(meta_ptr, std::array<size_t, 2>{kUnset, kUnset});
    size_t& slot = it->second[rec.stream == Stream::kStderr ? 1 : 0];
    if (slot == kUnset) {
      const SourceMeta& m = meta_ptr != nullptr ? *meta_ptr : EmptyMeta();
      std::string labels = "{";
      auto add = [&](std::string_view name, std::string_view value) {
        if (value.empty()) return;
        if (labels.size() > 1) labels.push_back(',');
        AppendJsonString(name, &labels);
        labels.push_back(':');
        AppendJsonString(value, &labels);
      };
      for (const auto& l : kLokiLabels) add(l.name, m.*l.member);
      add("stream", StreamName(rec.stream));
      for (const auto& l : extra_labels) {
        if (IsOneOf(l.name, {"service", "container", "release", "node", "app", "stream"})) continue;
        add(l.name, l.value);
      }
      labels.push_back('}');
      auto found = by_labels.find(labels);
      if (found != by_labels.end()) {
        slot = found->second;
      } else {
        slot = groups.size();
        by_labels.emplace(labels, slot);
        groups.push_back(Group{std::move(labels), {}});
      }
    }
    groups[slot].records.push_back(k);
  }

  out->append("{\"streams\":[");
  for (size_t g = 0; g < groups.size(); ++g) {
    if (g > 0) out->push_back(',');
    out->append("{\"stream\":");
    out->append(groups[g].labels);
    out->append(",\"values\":[");
    bool first = true;
    for (size_t k : groups[g].records) {
      const auto& [rec, meta_ptr] = batch[k];
      const SourceMeta& m = meta_ptr != nullptr ? *meta_ptr : EmptyMeta();
      out->append(first ? "[\"" : ",[\"");
      first = false;
      AppendInt(rec.time_ns, out);
      out->append("\",");
      AppendJsonString(rec.text, out);
      if (!m.container_id.empty() || !m.image.empty()) {
        out->append(",{");
        bool any = false;
        for (const auto& [name, value] :
             {std::pair<std::string_view, const std::string*>{"container_id", &m.container_id}, {"image", &m.image}}) {
          if (value->empty()) continue;
          if (any) out->push_back(',');
          any = true;
          out->push_back('"');
          out->append(name);
          out->append("\":");
          AppendJsonString(*value, out);
        }
        out->push_back('}');
      }
      out->push_back(']');
    }
    out->append("]}");
  }
  out->append("]}");
}

}  // namespace moor::logship
