// What service discovery needs from the engine: exec with captured output,
// files inside a container, the ports a container exposes.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/strings.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/process_runner.h"

namespace moor::engine {

namespace {

// In the container's mount namespace (a forked child): only syscalls on
// strings prepared before the fork.
int WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

int Complain(int fd, const char* what, const char* path) {
  const char* err = strerror(errno);
  (void)!write(fd, what, strlen(what));
  (void)!write(fd, path, strlen(path));
  (void)!write(fd, ": ", 2);
  (void)!write(fd, err, strlen(err));
  return 1;
}

}  // namespace

Result<Engine::CaptureResult> Engine::ExecCapture(const std::string& key, const std::vector<std::string>& argv,
                                                  int64_t timeout_ns) {
  if (argv.empty()) return FailInvalid("exec: empty command");
  auto rec = TRY(Get(key));
  if (rec.state.status != "running") return Fail(Error(EBUSY, "container " + rec.name + " is not running"));
  int64_t secs = std::max<int64_t>(1, (timeout_ns + 999'999'999) / 1'000'000'000);
  std::vector<std::string> full = {"/usr/bin/timeout", "-s", "KILL", std::to_string(secs) + "s",
                                   RuntimePath(rec.runtime), "--root", cfg_.RuntimeRoot() + "/" + rec.runtime,
                                   "exec", rec.id};
  full.insert(full.end(), argv.begin(), argv.end());
  auto r = TRY(RunTool(full));
  CaptureResult out;
  out.exit_code = r.exit_code;
  out.output = (r.out + r.err).substr(0, 4096);
  out.timed_out = r.exit_code == 137;
  return out;
}

Result<std::string> Engine::ReadContainerFile(const std::string& key, const std::string& path) {
  if (path.empty() || path[0] != '/') return FailInvalid("path inside the container must be absolute: " + path);
  std::string p = path;
  return InContainerFs(key, [p](int out_fd) {
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Complain(out_fd, "open ", p.c_str());
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      if (WriteAll(out_fd, buf, static_cast<size_t>(n)) != 0) return 1;
    }
    close(fd);
    return n < 0 ? Complain(out_fd, "read ", p.c_str()) : 0;
  });
}

Result<void> Engine::WriteContainerFile(const std::string& key, const std::string& path, const std::string& content,
                                        unsigned mode) {
  if (path.empty() || path[0] != '/' || path.back() == '/') {
    return FailInvalid("path inside the container must be an absolute file path: " + path);
  }
  // Parents, prepared here: "/a", "/a/b" for "/a/b/file".
  std::vector<std::string> parents;
  for (size_t i = path.find('/', 1); i != std::string::npos; i = path.find('/', i + 1)) {
    parents.push_back(path.substr(0, i));
  }
  std::string dir = path.substr(0, path.rfind('/'));
  std::string tmp = (dir.empty() ? "" : dir) + "/.moor-tmp-" + RandomHex(8);
  std::string final_path = path;
  TRY(InContainerFs(key, [&](int err_fd) {
    for (const auto& d : parents) {
      if (mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return Complain(err_fd, "mkdir ", d.c_str());
    }
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
    if (fd < 0) return Complain(err_fd, "create ", tmp.c_str());
    if (WriteAll(fd, content.data(), content.size()) != 0 || fchmod(fd, mode & 07777) != 0 || fsync(fd) != 0) {
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      errno = e;
      return Complain(err_fd, "write ", tmp.c_str());
    }
    close(fd);
    if (rename(tmp.c_str(), final_path.c_str()) == 0) return 0;
    int e = errno;
    unlink(tmp.c_str());
    if (e != EBUSY && e != EXDEV) {
      errno = e;
      return Complain(err_fd, "rename to ", final_path.c_str());
    }
    // A bound file cannot be replaced: rewrite it in place.
    fd = open(final_path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return Complain(err_fd, "open ", final_path.c_str());
    int rc = WriteAll(fd, content.data(), content.size());
    close(fd);
    return rc == 0 ? 0 : Complain(err_fd, "write ", final_path.c_str());
  }));
  return {};
}

Engine::ServiceView Engine::ServiceViewOf(const ContainerRecord& r) {
  ServiceView v;
  auto add = [&](const std::string& spec) {
    // "80/tcp", "80", "53/udp"
    auto slash = spec.find('/');
    if (slash != std::string::npos && spec.substr(slash + 1) != "tcp") return;
    auto n = ParseInt(spec.substr(0, slash));
    if (n && *n > 0 && *n < 65536) v.tcp_ports.push_back(static_cast<int>(*n));
  };
  for (const auto& p : r.config.exposed_ports) add(p);
  for (const auto& b : r.config.ports) {
    if (!b.udp) v.tcp_ports.push_back(b.container_port);
  }
  ImageFacts facts;
  {
    std::lock_guard ilock(images_mu_);
    auto it = image_facts_.find(r.image_id);
    if (it == image_facts_.end()) {
      if (auto img = images_->Resolve(r.image_id)) {
        const auto& h = img->config.config.healthcheck;
        ImageFacts f{img->config.config.exposed_ports, h && !h->test.empty() && h->test[0] != "NONE",
                     img->config.config.labels};
        it = image_facts_.emplace(r.image_id, std::move(f)).first;
      }
    }
    if (it != image_facts_.end()) facts = it->second;
  }
  for (const auto& p : facts.exposed_ports) add(p);
  bool image_health = facts.healthcheck;
  v.image_labels = std::move(facts.labels);
  if (r.config.healthcheck && !r.config.healthcheck->test.empty()) {
    v.has_healthcheck = r.config.healthcheck->test[0] != "NONE";
  } else {
    v.has_healthcheck = image_health;
  }
  std::sort(v.tcp_ports.begin(), v.tcp_ports.end());
  v.tcp_ports.erase(std::unique(v.tcp_ports.begin(), v.tcp_ports.end()), v.tcp_ports.end());
  return v;
}

void Engine::SetContainerResolver(const std::string& ip) {
  std::lock_guard lock(hook_mu_);
  container_resolver_ = ip;
}

std::string Engine::ContainerResolver() {
  std::lock_guard lock(hook_mu_);
  return container_resolver_;
}

}  // namespace moor::engine
