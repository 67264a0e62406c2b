#include "runtime/seccomp/compile.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "common/fd.h"
#include "runtime/seccomp/enosys_stub.h"
#include "runtime/seccomp/names.h"

namespace moor::runtime::seccomp {
namespace {

constexpr size_t kMaxArgs = 6;  // syscalls have at most six arguments
// libseccomp's binary-tree layout pays off for long allowlists; runc's
// threshold (libseccomp <= 2.5.4 misbehaves with it on empty filters).
constexpr size_t kOptimizeAbove = 32;

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

std::string Idx(const std::string& field, std::string_view name, size_t i) {
  return field + "." + std::string(name) + "[" + std::to_string(i) + "]";
}

Error LibError(int rc, const std::string& what) { return Error::FromErrno(-rc, what); }

Result<std::vector<scmp_arg_cmp>> ParseArgs(const oci::SeccompSyscall& sc,
                                            const std::string& field) {
  std::vector<scmp_arg_cmp> out;
  if (sc.args.size() > kMaxArgs)
    return FailInvalid(field + ".args: at most 6 conditions are allowed, got " +
                       std::to_string(sc.args.size()));
  for (size_t i = 0; i < sc.args.size(); ++i) {
    const auto& arg = sc.args[i];
    std::string af = Idx(field, "args", i);
    if (arg.index >= kMaxArgs)
      return FailInvalid(af + ".index: " + std::to_string(arg.index) +
                         " is not a syscall argument (expected 0 to 5)");
    scmp_compare op = TRY(ParseOperator(arg.op, af + ".op"));
    out.push_back(scmp_arg_cmp{arg.index, op, arg.value, arg.value_two});
  }
  return out;
}

// True when two conditions test the same argument (runc then ORs them).
bool SharesArgument(const std::vector<scmp_arg_cmp>& conds) {
  std::array<int, kMaxArgs> count{};
  for (const auto& c : conds)
    if (++count[c.arg] > 1) return true;
  return false;
}

Result<void> AddRules(void* ctx, uint32_t default_action, const oci::SeccompSyscall& sc,
                      const std::string& field) {
  if (sc.names.empty()) return FailInvalid(field + ".names: must list at least one syscall");
  uint32_t action = TRY(ParseAction(sc.action, sc.errno_ret, field + ".action"));
  auto conds = TRY(ParseArgs(sc, field));
  for (size_t i = 0; i < sc.names.size(); ++i)
    if (sc.names[i].empty()) return FailInvalid(Idx(field, "names", i) + ": empty syscall name");
  if (action == default_action) return {};  // redundant; libseccomp would refuse it
  bool split = SharesArgument(conds);

  for (size_t i = 0; i < sc.names.size(); ++i) {
    const std::string& name = sc.names[i];
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // unknown to libseccomp: skip, as runc does
    auto add = [&](unsigned count, const scmp_arg_cmp* c) -> Result<void> {
      int rc = seccomp_rule_add_array(ctx, action, nr, count, c);
      if (rc < 0)
        return Fail(LibError(rc, Idx(field, "names", i) + ": add rule for \"" + name + "\""));
      return {};
    };
    if (!split) {
      TRY(add(static_cast<unsigned>(conds.size()), conds.data()));
    } else {
      for (const auto& c : conds) TRY(add(1, &c));
    }
  }
  return {};
}

Result<Program> Export(void* ctx) {
  UniqueFd fd(memfd_create("moor-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) return FailErrno("memfd_create for the seccomp program");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc < 0) return Fail(LibError(rc, "export seccomp program"));
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size < 0) return FailErrno("size of the exported seccomp program");
  if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
    return FailInvalid("export seccomp program: unexpected size " + std::to_string(size));
  Program prog;
  prog.filter.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  char* buf = reinterpret_cast<char*>(prog.filter.data());
  size_t done = 0;
  while (done < static_cast<size_t>(size)) {
    ssize_t n =
        pread(fd.get(), buf + done, static_cast<size_t>(size) - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FailErrno("read back the exported seccomp program");
    done += static_cast<size_t>(n);
  }
  if (prog.filter.size() > BPF_MAXINSNS)
    return FailInvalid("seccomp program has " + std::to_string(prog.filter.size()) +
                       " instructions, above the kernel's limit of " +
                       std::to_string(BPF_MAXINSNS) + "; shorten the profile");
  return prog;
}

// Actions under which an unknown syscall should not become ENOSYS: allowing
// ones, and TRACE (a tracer handles new syscalls itself), as in runc.
bool AllowLike(uint32_t action) {
  return action == SCMP_ACT_ALLOW || action == SCMP_ACT_LOG ||
         (action & 0xffff0000U) == SCMP_ACT_TRACE(0);
}

// Largest syscall number the profile names, for each architecture of the filter.
std::vector<ArchLimit> ProfileLimits(const oci::Seccomp& profile,
                                     const std::vector<uint32_t>& arches) {
  std::vector<ArchLimit> limits;
  for (uint32_t arch : arches) {
    int max = -1;
    for (const auto& sc : profile.syscalls)
      for (const auto& name : sc.names)
        max = std::max(max, seccomp_syscall_resolve_name_arch(arch, name.c_str()));
    if (max < 0) continue;  // only pseudo or unknown syscalls: leave it to libseccomp
    bool x32 = arch == SCMP_ARCH_X32;
    limits.push_back({x32 ? AUDIT_ARCH_X86_64 : arch, x32, static_cast<uint32_t>(max)});
  }
  return limits;
}

}  // namespace

Result<Program> Compile(const oci::Seccomp& profile, const std::string& field) {
  if (!profile.listener_path.empty())
    return FailInvalid(field +
                       ".listenerPath: seccomp user notification is not supported by "
                       "moor-runtime; remove listenerPath and SCMP_ACT_NOTIFY rules");
  if (profile.default_action.empty())
    return FailInvalid(field + ".defaultAction: required (e.g. SCMP_ACT_ERRNO)");
  uint32_t default_action =
      TRY(ParseAction(profile.default_action, profile.default_errno_ret, field + ".defaultAction"));

  unsigned int flags = 0;
  for (size_t i = 0; i < profile.flags.size(); ++i)
    flags |= TRY(ParseFlag(profile.flags[i], Idx(field, "flags", i)));

  Ctx ctx(seccomp_init(default_action));
  if (!ctx) return FailInvalid(field + ".defaultAction: libseccomp refused the action");

  std::vector<uint32_t> arches = {seccomp_arch_native()};
  for (size_t i = 0; i < profile.architectures.size(); ++i) {
    std::string af = Idx(field, "architectures", i);
    uint32_t arch = TRY(ParseArchitecture(profile.architectures[i], af));
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc == -EEXIST) continue;  // the native one, or listed twice
    if (rc < 0) return Fail(LibError(rc, af + ": add architecture"));
    arches.push_back(arch);
  }

  size_t names = 0;
  for (const auto& sc : profile.syscalls) names += sc.names.size();
  if (names > kOptimizeAbove) {
    // Best effort: older libseccomp lacks the attribute and still works.
    (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  }

  for (size_t i = 0; i < profile.syscalls.size(); ++i)
    TRY(AddRules(ctx.get(), default_action, profile.syscalls[i], Idx(field, "syscalls", i)));

  Program prog = TRY_CTX(Export(ctx.get()), field);
  prog.flags = flags;
  if (!AllowLike(default_action)) {
    auto stub = TRY_CTX(BuildEnosysStub(ProfileLimits(profile, arches)), field);
    prog.filter.insert(prog.filter.begin(), stub.begin(), stub.end());
    if (prog.filter.size() > BPF_MAXINSNS)
      return FailInvalid(field + ": the seccomp program is too long for the kernel (" +
                         std::to_string(prog.filter.size()) +
                         " instructions); shorten the profile");
  }
  return prog;
}

}  // namespace moor::runtime::seccomp
