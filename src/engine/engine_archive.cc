// cp: tar archives of a path inside a container, and extraction into it.
// The work is done in a forked child that is confined to the container's
// root (its mount namespace when running — so volumes and generated files
// are seen — else a chroot into the mounted rootfs), so symlinks in the
// container can never lead to host files.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "image/snapshot/snapshotter.h"

namespace moor::engine {

namespace {

// Child side: exit 0 ok, 2 path missing, 3 not a directory, 1 other; message on err_fd.
int Fail2(int err_fd, int code, const std::string& msg) {
  (void)!write(err_fd, msg.data(), msg.size());
  return code;
}

int WriteTar(const std::string& path, int out_fd, int err_fd) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return Fail2(err_fd, 2, "no such file or directory in the container: " + path);
  std::string parent = path.substr(0, path.find_last_of('/'));
  if (parent.empty()) parent = "/";
  std::string base = path.substr(path.find_last_of('/') + 1);
  if (base.empty()) base = ".";
  if (chdir(parent.c_str()) != 0) return Fail2(err_fd, 1, "chdir " + parent + ": " + strerror(errno));
  archive* disk = archive_read_disk_new();
  archive_read_disk_set_standard_lookup(disk);
  archive* out = archive_write_new();
  archive_write_set_format_pax_restricted(out);
  if (archive_write_open_fd(out, out_fd) != ARCHIVE_OK) return Fail2(err_fd, 1, archive_error_string(out));
  if (archive_read_disk_open(disk, base.c_str()) != ARCHIVE_OK) return Fail2(err_fd, 1, archive_error_string(disk));
  for (;;) {
    archive_entry* e = archive_entry_new();
    int r = archive_read_next_header2(disk, e);
    if (r == ARCHIVE_EOF) {
      archive_entry_free(e);
      break;
    }
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      archive_entry_free(e);
      return Fail2(err_fd, 1, archive_error_string(disk));
    }
    archive_read_disk_descend(disk);
    if (archive_write_header(out, e) != ARCHIVE_OK) return Fail2(err_fd, 1, archive_error_string(out));
    if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0) {
      int fd = open(archive_entry_sourcepath(e), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        char buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0) archive_write_data(out, buf, static_cast<size_t>(n));
        close(fd);
      }
    }
    archive_entry_free(e);
  }
  archive_read_close(disk);
  archive_read_free(disk);
  archive_write_close(out);
  archive_write_free(out);
  return 0;
}

int ExtractTar(const std::string& dir, const std::string& tar, int err_fd) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return Fail2(err_fd, 2, "no such directory in the container: " + dir);
  if (!S_ISDIR(st.st_mode)) return Fail2(err_fd, 3, dir + " is not a directory in the container");
  if (chdir(dir.c_str()) != 0) return Fail2(err_fd, 1, "chdir " + dir + ": " + strerror(errno));
  archive* in = archive_read_new();
  archive_read_support_format_tar(in);
  archive_read_support_filter_all(in);
  if (archive_read_open_memory(in, tar.data(), tar.size()) != ARCHIVE_OK) {
    return Fail2(err_fd, 1, std::string("not a tar archive: ") + archive_error_string(in));
  }
  archive* disk = archive_write_disk_new();
  archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                           ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                           ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
  archive_entry* e;
  int r;
  while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
    if (archive_write_header(disk, e) != ARCHIVE_OK) return Fail2(err_fd, 1, archive_error_string(disk));
    const void* buf;
    size_t size;
    la_int64_t off;
    while (archive_read_data_block(in, &buf, &size, &off) == ARCHIVE_OK) {
      if (archive_write_data_block(disk, buf, size, off) != ARCHIVE_OK) {
        return Fail2(err_fd, 1, archive_error_string(disk));
      }
    }
    archive_write_finish_entry(disk);
  }
  if (r != ARCHIVE_EOF) return Fail2(err_fd, 1, archive_error_string(in));
  archive_write_close(disk);
  archive_write_free(disk);
  archive_read_free(in);
  return 0;
}

}  // namespace

// Runs fn in a child confined to the container's filesystem. What fn writes
// to its fd is the error message on failure, the result on success.
static Result<std::string> InContainerRoot(const ContainerRecord& r, const std::string& rootfs,
                                           const std::function<int(int err_fd)>& fn) {
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd err_r(errp[0]), err_w(errp[1]);
  UniqueFd mntns;
  if (r.state.pid > 0) {
    mntns.Reset(open(("/proc/" + std::to_string(r.state.pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  }
  pid_t pid = fork();
  if (pid < 0) return FailErrno("fork");
  if (pid == 0) {
    int code;
    if (mntns) {
      code = setns(mntns.get(), CLONE_NEWNS) == 0 && chdir("/") == 0 ? fn(err_w.get()) : 1;
    } else {
      code = chroot(rootfs.c_str()) == 0 && chdir("/") == 0 ? fn(err_w.get()) : 1;
    }
    _exit(code);
  }
  err_w.Reset();
  std::string msg;
  char buf[512];
  ssize_t n;
  while ((n = read(err_r.get(), buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code == 0) return msg;
  if (msg.empty()) msg = "failed (status " + std::to_string(code) + ")";
  return Fail(Error(code == 2 ? ENOENT : EINVAL, msg));
}

// Runs fn in a child confined to the container's root: its mount namespace
// while it runs, else its rootfs mounted for the occasion.
Result<std::string> Engine::InContainerFs(const std::string& key, const std::function<int(int out_fd)>& fn) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  std::string rootfs = cfg_.ContainerDir(c->rec.id) + "/bundle/rootfs";
  bool temp_mount = false;
  if (!c->prepared) {
    std::lock_guard ilock(images_mu_);
    auto img = TRY(images_->Resolve(c->rec.image_id));
    auto lowers = TRY(images_->Layers(img));
    TRY(MkdirAll(rootfs, 0755));
    TRY(image::MountOverlay(lowers, cfg_.ContainerDir(c->rec.id), rootfs));
    temp_mount = true;
  }
  auto r = InContainerRoot(c->rec, rootfs, fn);
  if (temp_mount) (void)image::UnmountOverlay(rootfs);
  return r;
}

namespace {
std::string Absolute(const std::string& p) { return !p.empty() && p[0] == '/' ? p : "/" + p; }
}  // namespace

Result<std::string> Engine::ArchiveStat(const std::string& key, const std::string& path) {
  std::string abs = Absolute(path);
  return InContainerFs(key, [&](int out_fd) {
    struct stat st {};
    if (lstat(abs.c_str(), &st) != 0) return Fail2(out_fd, 2, "no such file or directory in the container: " + abs);
    // Docker's stat header: Go's os.FileMode bits (dir 1<<31, symlink 1<<27).
    uint64_t mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode)) mode |= uint64_t{1} << 31;
    if (S_ISLNK(st.st_mode)) mode |= uint64_t{1} << 27;
    char target[4096] = {};
    if (S_ISLNK(st.st_mode)) (void)!readlink(abs.c_str(), target, sizeof target - 1);
    nlohmann::json j = {{"name", abs.substr(abs.find_last_of('/') + 1)},
                        {"size", static_cast<int64_t>(st.st_size)},
                        {"mode", mode},
                        {"mtime", ""},
                        {"linkTarget", std::string(target)}};
    std::string text = j.dump();
    (void)!write(out_fd, text.data(), text.size());
    return 0;
  });
}

Result<void> Engine::ArchiveGet(const std::string& key, const std::string& path, int out_fd) {
  std::string abs = Absolute(path);
  TRY(InContainerFs(key, [&](int err_fd) { return WriteTar(abs, out_fd, err_fd); }));
  return {};
}

Result<void> Engine::ArchivePut(const std::string& key, const std::string& dir, const std::string& tar) {
  std::string abs = Absolute(dir);
  TRY(InContainerFs(key, [&](int err_fd) { return ExtractTar(abs, tar, err_fd); }));
  return {};
}

}  // namespace moor::engine
