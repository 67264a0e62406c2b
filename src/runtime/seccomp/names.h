// Translation of the OCI seccomp vocabulary (actions, comparison operators,
// architectures, filter flags) into libseccomp and kernel values. Pure.
//
// Every error names the config field it was given, e.g.
//   linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO" (expected one of …)
#pragma once

#include <seccomp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace moor::runtime::seccomp {

// The libseccomp action for an OCI action name. `errno_ret` is used by
// SCMP_ACT_ERRNO (errno returned, default EPERM) and SCMP_ACT_TRACE (message
// number for the tracer, default EPERM as in runc); other actions ignore it.
// SCMP_ACT_NOTIFY is refused: moor-runtime has no seccomp agent support.
Result<uint32_t> ParseAction(std::string_view name, std::optional<uint32_t> errno_ret,
                             const std::string& field);

// The libseccomp comparison for an OCI operator ("SCMP_CMP_MASKED_EQ" …).
Result<scmp_compare> ParseOperator(std::string_view name, const std::string& field);

// The libseccomp architecture token for an OCI architecture ("SCMP_ARCH_X86_64" …).
Result<uint32_t> ParseArchitecture(std::string_view name, const std::string& field);

// The SECCOMP_FILTER_FLAG_* bit for an OCI flag name ("SECCOMP_FILTER_FLAG_LOG" …).
Result<unsigned int> ParseFlag(std::string_view name, const std::string& field);

}  // namespace moor::runtime::seccomp
