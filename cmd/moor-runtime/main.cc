#include "runtime_cli/runtime_main.h"

int main(int argc, char** argv, char** envp) { return moor::runtime_cli::RuntimeMain(argc, argv, envp); }
