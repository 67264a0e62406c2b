// Fuzz target: what containers write reaches the log encoders unfiltered —
// any bytes as a line, labels, and JSON the app printed (moor.log.json). The
// JSON formats must stay valid JSON whatever the bytes (fields merged from
// damaged text included), GELF chunks must reassemble, syslog must keep its
// header intact, and the line joiner must lose and invent nothing.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "logship/format/encode.h"
#include "logship/format/multiline.h"

namespace {

using moor::logship::Record;
using moor::logship::SourceMeta;
using moor::logship::Stream;
using nlohmann::json;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsUtf8(std::string_view s) {
  try {
    (void)json(std::string(s)).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

// JSON text without the json_lines terminator.
bool ValidJson(std::string_view s) {
  return json::accept(s);
}

void CheckJoiner(std::string_view text) {
  static auto joiner_result = moor::logship::LineJoiner::Make({"^[^ \t]", 256, 4, 1'000'000'000});
  Check(joiner_result.has_value());
  auto& joiner = **joiner_result;
  std::string rejoined;
  bool first = true;
  auto emit = [&](const moor::logship::OwnedRecord& r) {
    size_t lines = 1;
    for (char c : r.text) lines += c == '\n';
    Check(lines <= 4);
    Check(lines == 1 || r.text.size() <= 256);
    if (!first) rejoined.push_back('\n');
    first = false;
    rejoined += r.text;
  };
  int64_t t = 0;
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    joiner.Add(t++, Stream::kStdout, 1, text.substr(start, nl == std::string_view::npos ? nl : nl - start), emit);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  joiner.Flush(t, true, emit);
  Check(!joiner.pending());
  Check(rejoined == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool utf8 = IsUtf8(text);

  auto parsed = moor::logship::ParseAppJson(text);
  if (parsed) {
    auto j = json::parse(*parsed, nullptr, false);
    Check(j.is_object());
    Check(*moor::logship::ParseAppJson(*parsed) == *parsed);  // stable
  }

  SourceMeta meta;
  meta.container = std::string(text.substr(0, 12));
  meta.service = std::string(text.substr(text.size() / 2, 60));
  meta.release = std::string(text.substr(0, 3));
  meta.image = "img";
  meta.node = "node 1";
  // Fields: what ParseAppJson made, or the raw bytes as a damaged spool
  // could hand them back.
  std::string fields = parsed ? *parsed : std::string(text);
  Record rec{static_cast<int64_t>(size) * 1'000'000'007 - 5'000'000'000, size % 2 ? Stream::kStderr : Stream::kStdout,
             1, text, fields};

  std::string line;
  moor::logship::EncodeJsonLine(rec, meta, &line);
  Check(!line.empty() && line.back() == '\n');
  line.pop_back();
  Check(line.find('\n') == std::string::npos);
  Check(ValidJson(line));
  if (utf8) Check(json::parse(line)["message"] == std::string(text));

  std::string gelf;
  moor::logship::EncodeGelf(rec, meta, &gelf);
  Check(ValidJson(gelf));
  auto chunks = moor::logship::GelfChunks(gelf, 42, 64);
  if (chunks.empty()) {
    Check(gelf.size() > 128 * 52);
  } else if (chunks.size() > 1) {
    std::string whole;
    for (size_t k = 0; k < chunks.size(); ++k) {
      Check(chunks[k].size() <= 64 && static_cast<unsigned char>(chunks[k][10]) == k);
      whole += chunks[k].substr(12);
    }
    Check(whole == gelf);
  }

  std::string syslog;
  moor::logship::EncodeSyslog5424(rec, meta, {}, &syslog);
  Check(syslog.size() >= text.size() && syslog.compare(syslog.size() - text.size(), text.size(), text) == 0);
  // Seven header tokens before SD, none of them empty.
  size_t pos = 0;
  for (int k = 0; k < 6; ++k) {
    size_t sp = syslog.find(' ', pos);
    Check(sp != std::string::npos && sp > pos);
    pos = sp + 1;
  }

  std::string loki;
  moor::logship::EncodeLokiPush({{rec, &meta}, {rec, nullptr}}, {{"env", std::string(text.substr(0, 8))}}, &loki);
  Check(ValidJson(loki));

  CheckJoiner(text);
  return 0;
}
