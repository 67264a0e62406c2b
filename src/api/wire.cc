#include "api/wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>

#include "common/strings.h"

namespace moor::api::wire {

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

ReadStatus Reader::Fill(size_t* got) {
  if (timeout_ms_ >= 0) {
    pollfd p{fd_, POLLIN, 0};
    for (;;) {
      int rc = ::poll(&p, 1, timeout_ms_);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return ReadStatus::kIoError;
      if (rc == 0) return ReadStatus::kTimeout;
      break;
    }
  }
  char tmp[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    // A reset connection is a closed one for every caller here.
    if (n < 0) return errno == ECONNRESET ? ReadStatus::kEof : ReadStatus::kIoError;
    if (n == 0) return ReadStatus::kEof;
    buf_.append(tmp, static_cast<size_t>(n));
    received_ += static_cast<size_t>(n);
    if (got) *got = static_cast<size_t>(n);
    return ReadStatus::kOk;
  }
}

namespace {

// Position just past the next '\n' at or after from, or npos.
size_t LineEnd(const std::string& buf, size_t from) {
  size_t nl = buf.find('\n', from);
  return nl == std::string::npos ? nl : nl + 1;
}

std::string_view StripEol(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Reads one line (without its end) of at most limit bytes.
ReadStatus ReadLine(Reader& r, size_t limit, std::string* line) {
  size_t scanned = 0;
  for (;;) {
    std::string& buf = r.buffer();
    size_t end = LineEnd(buf, scanned);
    if (end != std::string::npos) {
      if (end > limit + 2) return ReadStatus::kTooLarge;
      *line = StripEol(std::string_view(buf).substr(0, end));
      buf.erase(0, end);
      return ReadStatus::kOk;
    }
    scanned = buf.size();
    if (buf.size() > limit + 2) return ReadStatus::kTooLarge;
    ReadStatus st = r.Fill();
    if (st != ReadStatus::kOk) return st;
  }
}

bool IsTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

ReadStatus ReadHead(Reader& r, size_t limit, std::string* head) {
  size_t scanned = 0;  // bytes of buf known to hold no head end
  for (;;) {
    std::string& buf = r.buffer();
    // Drop empty lines that precede the head (left over from a previous message).
    while (scanned == 0 && !buf.empty() && (buf[0] == '\r' || buf[0] == '\n')) {
      if (buf[0] == '\r' && buf.size() < 2) break;
      buf.erase(0, buf[0] == '\r' && buf[1] == '\n' ? 2 : 1);
    }
    size_t pos = scanned;
    for (;;) {
      size_t end = LineEnd(buf, pos);
      if (end == std::string::npos) break;
      if (StripEol(std::string_view(buf).substr(pos, end - pos)).empty()) {
        if (pos > limit) return ReadStatus::kTooLarge;
        head->assign(buf, 0, pos);
        buf.erase(0, end);
        return ReadStatus::kOk;
      }
      pos = end;
    }
    scanned = pos;
    if (buf.size() > limit) return ReadStatus::kTooLarge;
    ReadStatus st = r.Fill();
    if (st != ReadStatus::kOk) return st;
  }
}

bool ParseHead(std::string_view head, std::string* first_line, Headers* headers) {
  bool first = true;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = StripEol(head.substr(0, nl == std::string_view::npos ? head.size() : nl + 1));
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (first) {
      *first_line = line;
      first = false;
      continue;
    }
    if (line.empty()) return false;
    // Folded continuation lines are obsolete and a smuggling vector (RFC 9112 5.2).
    if (line[0] == ' ' || line[0] == '\t') return false;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    std::string_view name = line.substr(0, colon);
    for (unsigned char c : name)
      if (!IsTokenChar(c)) return false;
    std::string_view value = Trim(line.substr(colon + 1));
    for (unsigned char c : value)
      if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    std::string key = Lower(name);
    auto [it, inserted] = headers->emplace(key, std::string(value));
    if (!inserted) {
      it->second += ", ";
      it->second += value;
    }
  }
  return !first;
}

bool HasToken(const Headers& h, const std::string& name, std::string_view token) {
  auto it = h.find(name);
  if (it == h.end()) return false;
  std::string want = Lower(token);
  for (const std::string& part : Split(it->second, ','))
    if (Lower(Trim(part)) == want) return true;
  return false;
}

ReadStatus ReadSized(Reader& r, uint64_t n, const Sink& sink) {
  while (n > 0) {
    std::string& buf = r.buffer();
    if (buf.empty()) {
      ReadStatus st = r.Fill();
      if (st != ReadStatus::kOk) return st;
      continue;
    }
    size_t take = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    bool more = sink(std::string_view(buf).substr(0, take));
    buf.erase(0, take);
    n -= take;
    if (!more) return ReadStatus::kStopped;
  }
  return ReadStatus::kOk;
}

ReadStatus ReadChunked(Reader& r, uint64_t limit, const Sink& sink) {
  uint64_t total = 0;
  for (;;) {
    std::string line;
    ReadStatus st = ReadLine(r, 1024, &line);
    if (st == ReadStatus::kTooLarge) return ReadStatus::kMalformed;
    if (st != ReadStatus::kOk) return st;
    std::string_view size_text = Trim(std::string_view(line).substr(0, line.find(';')));
    if (size_text.empty() || size_text.size() > 15) return ReadStatus::kMalformed;
    uint64_t size = 0;
    for (char c : size_text) {
      int v = std::isxdigit(static_cast<unsigned char>(c))
                  ? (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10))
                  : -1;
      if (v < 0) return ReadStatus::kMalformed;
      size = size * 16 + static_cast<uint64_t>(v);
    }
    if (size == 0) break;
    total += size;
    if (limit && total > limit) return ReadStatus::kTooLarge;
    st = ReadSized(r, size, sink);
    if (st != ReadStatus::kOk) return st;
    st = ReadLine(r, 0, &line);  // the CRLF after the data, nothing else
    bool bad_end = st == ReadStatus::kTooLarge || (st == ReadStatus::kOk && !line.empty());
    if (bad_end) return ReadStatus::kMalformed;
    if (st != ReadStatus::kOk) return st;
  }
  // Trailer fields (ignored) up to the empty line.
  for (int fields = 0;; ++fields) {
    std::string line;
    ReadStatus st = ReadLine(r, 8192, &line);
    if (st == ReadStatus::kTooLarge) return ReadStatus::kMalformed;
    if (st != ReadStatus::kOk) return st;
    if (line.empty()) return ReadStatus::kOk;
    if (fields > 100) return ReadStatus::kMalformed;
  }
}

ReadStatus ReadUntilClose(Reader& r, const Sink& sink) {
  for (;;) {
    std::string& buf = r.buffer();
    if (!buf.empty()) {
      bool more = sink(buf);
      buf.clear();
      if (!more) return ReadStatus::kStopped;
    }
    ReadStatus st = r.Fill();
    if (st == ReadStatus::kEof) return ReadStatus::kOk;
    if (st != ReadStatus::kOk) return st;
  }
}

std::string ChunkFrame(std::string_view data) {
  char size[24];
  int n = snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(static_cast<size_t>(n) + data.size() + 2);
  out.append(size, static_cast<size_t>(n));
  out += data;
  out += "\r\n";
  return out;
}

}  // namespace moor::api::wire
