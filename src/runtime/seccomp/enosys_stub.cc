#include "runtime/seccomp/enosys_stub.h"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace moor::runtime::seccomp {
namespace {

constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT
constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);

// A tiny assembler: jumps name labels, resolved once the layout is known.
class Assembler {
 public:
  int NewLabel() {
    labels_.push_back(-1);
    return static_cast<int>(labels_.size()) - 1;
  }
  void Bind(int label) { labels_[static_cast<size_t>(label)] = static_cast<int>(code_.size()); }
  void Stmt(uint16_t code, uint32_t k) { code_.push_back({BPF_STMT(code, k), kNone, kNone}); }
  // Conditional jump; kNone for a label means "next instruction".
  void Jump(uint16_t code, uint32_t k, int jt, int jf) {
    code_.push_back({BPF_JUMP(code, k, 0, 0), jt, jf});
  }
  void Goto(int label) { code_.push_back({BPF_STMT(BPF_JMP | BPF_JA, 0), label, kNone}); }

  Result<std::vector<sock_filter>> Finish() const {
    std::vector<sock_filter> out;
    for (size_t pc = 0; pc < code_.size(); ++pc) {
      sock_filter f = code_[pc].insn;
      auto offset = [&](int label) -> std::optional<uint32_t> {
        if (label == kNone) return 0;
        int target = labels_[static_cast<size_t>(label)];
        if (target <= static_cast<int>(pc)) return std::nullopt;  // BPF only jumps forward
        return static_cast<uint32_t>(target - static_cast<int>(pc) - 1);
      };
      auto jt = offset(code_[pc].jt), jf = offset(code_[pc].jf);
      if (!jt || !jf) return FailInvalid("seccomp ENOSYS stub: backward jump");
      if (BPF_CLASS(f.code) != BPF_JMP) {
        // loads and returns carry no jump
      } else if (BPF_OP(f.code) == BPF_JA) {
        f.k = *jt;
      } else {
        if (*jt > 255 || *jf > 255) return FailInvalid("seccomp ENOSYS stub: jump too long");
        f.jt = static_cast<uint8_t>(*jt);
        f.jf = static_cast<uint8_t>(*jf);
      }
      out.push_back(f);
    }
    return out;
  }

  static constexpr int kNone = -1;

 private:
  struct Insn {
    sock_filter insn;
    int jt, jf;
  };
  std::vector<Insn> code_;
  std::vector<int> labels_;
};

struct ArchSection {
  std::optional<uint32_t> max;      // the architecture's own ABI
  std::optional<uint32_t> x32_max;  // x86_64 only
};

}  // namespace

Result<std::vector<sock_filter>> BuildEnosysStub(const std::vector<ArchLimit>& limits) {
  if (limits.empty()) return std::vector<sock_filter>{};
  std::map<uint32_t, ArchSection> sections;
  for (const ArchLimit& l : limits) {
    ArchSection& s = sections[l.audit_arch];
    std::optional<uint32_t>& slot = l.x32 ? s.x32_max : s.max;
    if (l.x32 && l.audit_arch != AUDIT_ARCH_X86_64)
      return FailInvalid("seccomp ENOSYS stub: x32 is only an ABI of x86_64");
    if (slot) return FailInvalid("seccomp ENOSYS stub: architecture listed twice");
    slot = l.max_nr;
  }

  Assembler a;
  int enosys = a.NewLabel(), filter = a.NewLabel();
  std::map<uint32_t, int> entry;
  for (const auto& [arch, section] : sections) entry[arch] = a.NewLabel();

  // Dispatch on the architecture; unknown ones go straight to the filter.
  a.Stmt(BPF_LD | BPF_W | BPF_ABS, kArchOffset);
  for (const auto& [arch, section] : sections)
    a.Jump(BPF_JMP | BPF_JEQ | BPF_K, arch, entry[arch], Assembler::kNone);
  a.Goto(filter);

  // Per architecture: syscall number above the profile's largest → ENOSYS.
  auto compare = [&](std::optional<uint32_t> max) {
    if (max)
      a.Jump(BPF_JMP | BPF_JGT | BPF_K, *max, enosys, filter);
    else
      a.Goto(filter);  // this ABI is not in the profile: libseccomp decides
  };
  for (const auto& [arch, section] : sections) {
    a.Bind(entry[arch]);
    a.Stmt(BPF_LD | BPF_W | BPF_ABS, kNrOffset);
    if (arch == AUDIT_ARCH_X86_64) {
      int x32 = a.NewLabel();
      a.Jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, x32, Assembler::kNone);
      compare(section.max);
      a.Bind(x32);
      compare(section.x32_max);
    } else {
      compare(section.max);
    }
  }
  a.Bind(enosys);
  a.Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
  a.Bind(filter);
  return a.Finish();
}

}  // namespace moor::runtime::seccomp
