#include "image/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <vector>

namespace moor::image {

namespace {

std::string HumanBytes(int64_t n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;  // progress output is best effort
    off += static_cast<size_t>(n);
  }
}

class NullSink final : public ProgressSink {
 public:
  void Status(const std::string&, const std::string&) override {}
  void Bytes(const std::string&, int64_t, int64_t) override {}
  void Message(const std::string&) override {}
  void Flush() override {}
};

// One line per state change; byte counts are not printed (CI logs).
class PlainSink final : public ProgressSink {
 public:
  explicit PlainSink(int fd) : fd_(fd) {}
  void Status(const std::string& id, const std::string& status) override {
    std::lock_guard lock(mu_);
    auto& last = last_[id];
    if (last == status) return;
    last = status;
    WriteAll(fd_, id + ": " + status + "\n");
  }
  void Bytes(const std::string&, int64_t, int64_t) override {}
  void Message(const std::string& line) override {
    std::lock_guard lock(mu_);
    WriteAll(fd_, line + "\n");
  }
  void Flush() override {}

 private:
  int fd_;
  std::mutex mu_;
  std::map<std::string, std::string> last_;
};

// Redraws all item lines in place (ANSI cursor-up), at most 10 times a second.
class TerminalSink final : public ProgressSink {
 public:
  explicit TerminalSink(int fd) : fd_(fd) {}
  ~TerminalSink() override { Flush(); }

  void Status(const std::string& id, const std::string& status) override {
    std::lock_guard lock(mu_);
    Item& it = Find(id);
    it.status = status;
    Redraw(true);
  }
  void Bytes(const std::string& id, int64_t done, int64_t total) override {
    std::lock_guard lock(mu_);
    Item& it = Find(id);
    it.done = done;
    it.total = total;
    Redraw(false);
  }
  void Message(const std::string& line) override {
    std::lock_guard lock(mu_);
    Redraw(true);
    WriteAll(fd_, line + "\n");
    drawn_ = 0;  // the message scrolls the item block away; later items start fresh
    items_.clear();
  }
  void Flush() override {
    std::lock_guard lock(mu_);
    Redraw(true);
  }

 private:
  struct Item {
    std::string id, status;
    int64_t done = 0, total = -1;
  };

  Item& Find(const std::string& id) {
    for (auto& it : items_) {
      if (it.id == id) return it;
    }
    items_.push_back(Item{id, "", 0, -1});
    return items_.back();
  }

  std::string Line(const Item& it) const {
    std::string line = it.id + ": " + it.status;
    bool transferring = it.status == "Downloading" || it.status == "Pushing" || it.status == "Extracting";
    if (transferring && it.done > 0) {
      if (it.total > 0) {
        int width = 40;
        int fill = static_cast<int>(width * std::min<int64_t>(it.done, it.total) / it.total);
        line += " [" + std::string(static_cast<size_t>(fill), '=') + (fill < width ? ">" : "") +
                std::string(static_cast<size_t>(std::max(0, width - fill - 1)), ' ') + "] " +
                HumanBytes(it.done) + "/" + HumanBytes(it.total);
      } else {
        line += " " + HumanBytes(it.done);
      }
    }
    return line;
  }

  void Redraw(bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::string out;
    if (drawn_ > 0) out += "\x1b[" + std::to_string(drawn_) + "A";
    for (auto& it : items_) out += "\r\x1b[2K" + Line(it) + "\n";
    drawn_ = items_.size();
    WriteAll(fd_, out);
  }

  int fd_;
  std::mutex mu_;
  std::vector<Item> items_;
  size_t drawn_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace

std::unique_ptr<ProgressSink> MakeProgress(int fd, bool quiet) {
  if (quiet) return std::make_unique<NullSink>();
  if (isatty(fd)) return std::make_unique<TerminalSink>(fd);
  return std::make_unique<PlainSink>(fd);
}

std::unique_ptr<ProgressSink> NullProgress() { return std::make_unique<NullSink>(); }

}  // namespace moor::image
