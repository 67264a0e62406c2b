// What the container process is handed before execve, shared by create/run
// (container_init.cc) and exec (op_exec.cc): the --console-socket and pty,
// preserved fds, and the execve itself.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "common/fd.h"
#include "oci/spec.h"

namespace moor::runtime {

// Connects to the --console-socket (parent side, before clone).
Result<UniqueFd> ConnectConsoleSocket(const std::string& path);
// Sends `fd` over a unix socket with SCM_RIGHTS.
Result<void> SendFd(int socket, int fd);

struct Pty {
  UniqueFd master;
  UniqueFd slave;
};
// Opens a pty pair from the devpts instance whose ptmx is `ptmx_path`
// (a path, or /proc/self/fd/N), sized per process.consoleSize when given.
Result<Pty> OpenPty(const std::string& ptmx_path, const oci::Process& process);
// New session with `slave` as controlling terminal and as fds 0, 1, 2.
Result<void> BecomeTerminalSession(int slave);

// Fds 3 … 3+preserve_fds-1 stay open across execve; every higher fd is
// marked close-on-exec (CVE-2024-21626: nothing of the runtime leaks).
Result<void> PassOnlyPreservedFds(int preserve_fds);

// execve(exe, process args, env). On failure writes one line to stderr and
// _exits 127 (not found) or 126.
[[noreturn]] void ExecProcess(const std::string& exe, const oci::Process& process,
                              const std::vector<std::string>& env);

}  // namespace moor::runtime
