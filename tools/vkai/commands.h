// One function per subcommand (one file each: cmd_<name>.cpp). argv[0] is the subcommand name.
#pragma once

namespace vkai::cli {

int cmd_info(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_devices(int argc, char** argv);
int cmd_transcribe(int argc, char** argv);
int cmd_plan(int argc, char** argv);
int cmd_serve(int argc, char** argv);

} // namespace vkai::cli
