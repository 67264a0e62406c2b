// Compiles an OCI seccomp profile (linux.seccomp) into a BPF Program.
//
// Runs in the runtime's parent process: it allocates and uses libseccomp,
// which may probe the running kernel for supported actions. The result is
// plain data that the child loads with Load() (load.h).
//
// Semantics, matching runc so that Docker's and Kubernetes' profiles behave
// the same:
// - defaultAction / defaultErrnoRet give the action for unmatched syscalls;
//   errnoRet defaults to EPERM for SCMP_ACT_ERRNO (and SCMP_ACT_TRACE).
// - architectures are added to the native one; a syscall made through an
//   architecture not in the filter kills the thread (libseccomp's default).
// - A syscall name libseccomp does not know is skipped, so profiles that list
//   syscalls newer than this libseccomp still work. A rule whose action equals
//   the default action is skipped as redundant.
// - Conditions of one rule are ANDed; when two conditions of one rule test the
//   same argument index, each condition becomes its own rule (ORed), as runc does.
// - Unless the default action allows (ALLOW, LOG, TRACE), syscalls numbered
//   above the largest one the profile names get ENOSYS, so libcs newer than
//   the profile fall back instead of failing (enosys_stub.h; runc does this too).
// - SCMP_ACT_NOTIFY and listenerPath are refused (no seccomp agent support).
// - flags: SECCOMP_FILTER_FLAG_TSYNC, _LOG and _SPEC_ALLOW go to Program::flags.
// Unknown actions, operators, architectures and flags are errors naming the
// field, e.g. `linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO" …`.
#pragma once

#include <string>

#include "common/error.h"
#include "oci/spec.h"
#include "runtime/seccomp/program.h"

namespace moor::runtime::seccomp {

// `field` prefixes error messages (the profile's place in config.json).
Result<Program> Compile(const oci::Seccomp& profile, const std::string& field = "linux.seccomp");

}  // namespace moor::runtime::seccomp
