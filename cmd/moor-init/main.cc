// moor-init: minimal PID 1 for containers. All logic lives in src/init.
#include "init/init.h"

int main(int argc, char** argv) { return moor::init::Main(argc, argv); }
