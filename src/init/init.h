// moor-init: a minimal PID 1 in front of the app (what `docker run --init`
// does with tini). It forwards the signals it receives to the app's process
// group, reaps every zombie re-parented to it, and exits with the app's code.
#pragma once

#include "init/options.h"

namespace moor::init {

// Runs opts.argv under init until the app exits; returns init's exit code
// (the app's code, 128+N for death by signal N, 1 when init itself fails,
// 2 when opts.argv is empty).
// REQUIRES: single-threaded process; changes its signal mask and dispositions.
int Run(const Options& opts);

// The whole program: parses argv (usage errors -> one line, exit 2), prints
// --help/--version, else Run(). Returns the exit code.
int Main(int argc, char** argv);

}  // namespace moor::init
