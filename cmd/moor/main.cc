#include "cli/cli_main.h"

int main(int argc, char** argv, char** envp) { return moor::cli::CliMain(argc, argv, envp); }
