// Starting the app: the only code of moor-init that runs in the child.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace moor::init {

// Sets every signal's disposition to SIG_DFL (errors for reserved signals are ignored).
void ResetSignalDispositions();

// Forks the app. In the child: its own process group (pgid = its pid); that
// group becomes the foreground group of stdin when stdin is a terminal; default
// dispositions and an empty signal mask; then execvp(argv). When exec fails the
// child prints `moor-init: exec "PROG": REASON` on stderr and exits 127 (not
// found) or 126 (cannot run).
// REQUIRES: argv non-empty; the caller blocks the signals it handles, so the
// child cannot be interrupted before exec; the process is single-threaded.
// Returns the app's pid, which is also its process group id.
Result<pid_t> SpawnApp(const std::vector<std::string>& argv);

}  // namespace moor::init
