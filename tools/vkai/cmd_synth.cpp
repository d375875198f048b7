// placeholder: being written this session
#include "commands.h"
int vkai::cli::cmd_synth(int, char**) { return 1; }
