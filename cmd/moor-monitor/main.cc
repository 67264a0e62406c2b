// moor-monitor: the per-container monitor process, started by `moor daemon`
// (see src/monitor/monitor_config.h). A binary of its own so that starting a
// container costs one small static exec, not the loading of every library
// the CLI needs.
#include <cstdio>
#include <cstring>

#include "monitor/monitor_config.h"

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "--config") != 0) {
    std::fprintf(stderr, "moor-monitor: usage: moor-monitor --config FILE (started by moor daemon)\n");
    return 2;
  }
  return moor::monitor::MonitorMain(argv[2]);
}
