#include "runtime/seccomp/names.h"

#include <linux/seccomp.h>

#include <array>
#include <cerrno>
#include <utility>

namespace moor::runtime::seccomp {
namespace {

// Largest errno the kernel passes through SECCOMP_RET_ERRNO (MAX_ERRNO).
constexpr uint32_t kMaxErrno = 4095;

template <class T, size_t N>
std::optional<T> Lookup(const std::array<std::pair<std::string_view, T>, N>& table,
                        std::string_view name) {
  for (const auto& [key, value] : table)
    if (key == name) return value;
  return std::nullopt;
}

template <class T, size_t N>
std::string Choices(const std::array<std::pair<std::string_view, T>, N>& table) {
  std::string out;
  for (const auto& entry : table) {
    if (!out.empty()) out += ", ";
    out += entry.first;
  }
  return out;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

constexpr std::array<std::pair<std::string_view, scmp_compare>, 7> kOperators = {{
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
}};

constexpr std::array<std::pair<std::string_view, uint32_t>, 19> kArchitectures = {{
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
}};

constexpr std::array<std::pair<std::string_view, unsigned int>, 3> kFlags = {{
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
}};

// Actions that take no data; ERRNO and TRACE are handled separately.
constexpr std::array<std::pair<std::string_view, uint32_t>, 6> kPlainActions = {{
    {"SCMP_ACT_KILL", SCMP_ACT_KILL},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG},
}};

}  // namespace

Result<uint32_t> ParseAction(std::string_view name, std::optional<uint32_t> errno_ret,
                             const std::string& field) {
  if (name == "SCMP_ACT_ERRNO" || name == "SCMP_ACT_TRACE") {
    uint32_t data = errno_ret.value_or(EPERM);
    if (data > kMaxErrno)
      return FailInvalid(field + ": errno " + std::to_string(data) +
                         " is out of range (the kernel accepts 0 to 4095)");
    return name == "SCMP_ACT_ERRNO" ? SCMP_ACT_ERRNO(data) : SCMP_ACT_TRACE(data);
  }
  if (name == "SCMP_ACT_NOTIFY")
    return FailInvalid(field +
                       ": SCMP_ACT_NOTIFY is not supported by moor-runtime (no seccomp agent "
                       "support); use SCMP_ACT_ERRNO or SCMP_ACT_ALLOW instead");
  if (auto action = Lookup(kPlainActions, name)) return *action;
  return FailInvalid(field + ": unknown action " + Quote(name) + " (expected one of " +
                     Choices(kPlainActions) + ", SCMP_ACT_ERRNO, SCMP_ACT_TRACE)");
}

Result<scmp_compare> ParseOperator(std::string_view name, const std::string& field) {
  if (auto op = Lookup(kOperators, name)) return *op;
  return FailInvalid(field + ": unknown operator " + Quote(name) + " (expected one of " +
                     Choices(kOperators) + ")");
}

Result<uint32_t> ParseArchitecture(std::string_view name, const std::string& field) {
  if (auto arch = Lookup(kArchitectures, name)) return *arch;
  return FailInvalid(field + ": unknown architecture " + Quote(name) +
                     " (expected a name like SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64)");
}

Result<unsigned int> ParseFlag(std::string_view name, const std::string& field) {
  if (auto flag = Lookup(kFlags, name)) return *flag;
  return FailInvalid(field + ": unknown seccomp flag " + Quote(name) + " (expected one of " +
                     Choices(kFlags) + ")");
}

}  // namespace moor::runtime::seccomp
