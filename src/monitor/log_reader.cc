// ReadLogs: the json-file log back as entries, optionally following it.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <nlohmann/json.hpp>

#include "common/json_escape.h"
#include "monitor/log_file.h"

namespace moor::monitor {
namespace {

using Emit = std::function<bool(const LogEntry&)>;

// A JSON string literal at s[*pos] (the opening quote), decoded into *out.
bool ParseJsonString(std::string_view s, size_t* pos, std::string* out) {
  if (*pos >= s.size() || s[*pos] != '"') return false;
  size_t i = *pos + 1;
  out->clear();
  while (i < s.size()) {
    size_t run = i;
    while (i < s.size() && s[i] != '"' && s[i] != '\\') ++i;
    out->append(s.substr(run, i - run));
    if (i >= s.size()) return false;
    if (s[i] == '"') {
      *pos = i + 1;
      return true;
    }
    if (++i >= s.size()) return false;
    if (!AppendJsonEscape(s, &i, out)) return false;
  }
  return false;
}

bool Literal(std::string_view s, size_t* pos, std::string_view lit) {
  if (s.substr(*pos, lit.size()) != lit) return false;
  *pos += lit.size();
  return true;
}

// The records LogWriter writes, without a general JSON parser (following a
// busy log parses hundreds of thousands of them).
std::optional<LogEntry> ParseOwnRecord(std::string_view line) {
  LogEntry e;
  size_t pos = 0;
  if (!Literal(line, &pos, "{\"log\":") || !ParseJsonString(line, &pos, &e.text)) return std::nullopt;
  if (!Literal(line, &pos, ",\"stream\":") || !ParseJsonString(line, &pos, &e.stream)) return std::nullopt;
  if (!Literal(line, &pos, ",\"time\":") || !ParseJsonString(line, &pos, &e.time)) return std::nullopt;
  if (!Literal(line, &pos, "}") || pos != line.size()) return std::nullopt;
  e.time_ns = ParseRfc3339(e.time).value_or(0);
  return e;
}

// Parses one record; malformed lines (a crash mid-write) are skipped.
std::optional<LogEntry> ParseRecord(std::string_view line) {
  if (auto e = ParseOwnRecord(line)) return e;
  // Other writers (Docker itself) may order or add fields differently.
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto log = j.find("log");
  auto stream = j.find("stream");
  auto time = j.find("time");
  if (log == j.end() || !log->is_string() || stream == j.end() || !stream->is_string() || time == j.end() ||
      !time->is_string())
    return std::nullopt;
  LogEntry e;
  e.text = log->get<std::string>();
  e.stream = stream->get<std::string>();
  e.time = time->get<std::string>();
  e.time_ns = ParseRfc3339(e.time).value_or(0);
  return e;
}

// Feeds complete lines of an fd to a handler; keeps a trailing partial line
// for the next call (a follower may catch the writer mid-record).
class LineReader {
 public:
  explicit LineReader(UniqueFd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  off_t offset() const { return offset_; }
  // Reads to EOF; on_line returning false stops (returns false).
  Result<bool> Drain(const std::function<bool(std::string_view)>& on_line) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        return FailErrno("read log");
      }
      if (n == 0) return true;
      offset_ += n;
      pending_.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!on_line(std::string_view(pending_).substr(start, nl - start))) {
          pending_.erase(0, nl + 1);
          return false;
        }
      }
      pending_.erase(0, start);
    }
  }
  void Rewind() {
    ::lseek(fd_.get(), 0, SEEK_SET);
    offset_ = 0;
    pending_.clear();
  }

 private:
  UniqueFd fd_;
  off_t offset_ = 0;
  std::string pending_;
};

bool Wanted(const LogQuery& q, const LogEntry& e) {
  if (e.stream == "stdout" && !q.stdout) return false;
  if (e.stream == "stderr" && !q.stderr) return false;
  if (q.since_ns && e.time_ns < *q.since_ns) return false;
  if (q.until_ns && e.time_ns >= *q.until_ns) return false;
  return true;
}

}  // namespace

Result<void> ReadLogs(const std::string& path, int max_files, const LogQuery& q, const Emit& on_entry,
                      const std::function<bool()>& stop) {
  // With tail, hold only the last N entries of the existing files.
  std::deque<LogEntry> tail;
  bool stopped = false;
  auto take = [&](std::string_view line) {
    auto e = ParseRecord(line);
    if (!e || !Wanted(q, *e)) return true;
    if (q.tail) {
      if (*q.tail <= 0) return true;
      tail.push_back(std::move(*e));
      if (static_cast<int64_t>(tail.size()) > *q.tail) tail.pop_front();
      return true;
    }
    if (!on_entry(*e)) stopped = true;
    return !stopped;
  };
  for (int i = max_files - 1; i >= 1 && !stopped; --i) {
    std::string rotated = path + "." + std::to_string(i);
    UniqueFd fd(::open(rotated.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;
    LineReader r(std::move(fd));
    TRY(r.Drain(take));
  }
  if (stopped) return {};
  UniqueFd cur_fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!cur_fd && (errno != ENOENT || !q.follow)) {
    if (errno == ENOENT) {
      for (const auto& e : tail)
        if (!on_entry(e)) return {};
      return {};
    }
    return FailErrno("open log " + path);
  }
  std::optional<LineReader> cur;
  if (cur_fd) {
    cur.emplace(std::move(cur_fd));
    TRY(cur->Drain(take));
  }
  if (stopped) return {};
  for (const auto& e : tail)
    if (!on_entry(e)) return {};
  if (!q.follow) return {};

  // Follow: new records are passed on at once.
  auto live = [&](std::string_view line) {
    auto e = ParseRecord(line);
    if (!e) return true;
    if (q.until_ns && e->time_ns >= *q.until_ns) {
      stopped = true;
      return false;
    }
    if (!Wanted(q, *e)) return true;
    if (!on_entry(*e)) stopped = true;
    return !stopped;
  };
  // inotify on the directory wakes us for writes and for the rotation's new file.
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd ino(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (ino) ::inotify_add_watch(ino.get(), dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE);
  for (;;) {
    if (cur) {
      TRY(cur->Drain(live));
      if (stopped) return {};
    }
    if (stop()) return {};
    if (q.until_ns && NowUnixNs() >= *q.until_ns) return {};
    // Rotated (a new file at path) or truncated (max_files 1)?
    struct stat now_st, cur_st;
    bool have_now = ::stat(path.c_str(), &now_st) == 0;
    if (have_now && (!cur || (::fstat(cur->fd(), &cur_st) == 0 &&
                              (now_st.st_ino != cur_st.st_ino || now_st.st_dev != cur_st.st_dev)))) {
      if (cur) {
        TRY(cur->Drain(live));  // what was written before the rename
        if (stopped) return {};
      }
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) {
        cur.emplace(std::move(fd));
        continue;
      }
    } else if (have_now && cur && now_st.st_size < cur->offset()) {
      cur->Rewind();
      continue;
    }
    if (ino) {
      pollfd p{ino.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        while (::read(ino.get(), buf, sizeof buf) > 0) {
        }
      }
    } else {
      ::usleep(50'000);
    }
  }
}

}  // namespace moor::monitor
