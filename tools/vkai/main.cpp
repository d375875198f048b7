// vkai: one binary for local LLM chat, image generation and transcription on Vulkan or the CPU.
#include "commands.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

struct Command {
    const char* name;
    int (*run)(int, char**);
    const char* summary;
};

const Command kCommands[] = {
    {"devices", vkai::cli::cmd_devices, "list Vulkan devices and the CPU, with memory and features"},
    {"info", vkai::cli::cmd_info, "metadata and tensor table of a GGUF file"},
    {"synth", vkai::cli::cmd_synth, "write a random-weight model with the real shapes of a known model"},
    {"run", vkai::cli::cmd_run, "generate text from a prompt"},
    {"chat", vkai::cli::cmd_chat, "interactive chat with the model's chat template"},
    {"perplexity", vkai::cli::cmd_perplexity, "perplexity of a text file"},
    {"logits", vkai::cli::cmd_logits, "logits at every prompt position (JSON)"},
    {"bench", vkai::cli::cmd_bench, "prompt and generation speed of a model, beside measured memory bandwidth"},
    {"transcribe", vkai::cli::cmd_transcribe, "speech to text with a whisper model (txt, srt, vtt, json)"},
    {"tokenize", vkai::cli::cmd_tokenize, "token ids of a text with a model's tokenizer"},
    {"plan", vkai::cli::cmd_plan, "memory plan: which layers, experts and KV cache go on the GPU, and the context size"},
    {"serve", vkai::cli::cmd_serve, "OpenAI/Ollama-compatible HTTP server with a web UI"},
};

void usage(FILE* f) {
    std::fprintf(f, "usage: vkai <command> [options]   (vkai <command> --help for its options)\n\ncommands:\n");
    for (const auto& c : kCommands) std::fprintf(f, "  %-12s %s\n", c.name, c.summary);
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::printf("vkai 0.1.0\n");
        return 0;
    }
    for (const auto& c : kCommands)
        if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
    std::string names;
    for (const auto& c : kCommands) names += std::string(names.empty() ? "" : ", ") + c.name;
    std::fprintf(stderr, "vkai: unknown command '%s'; commands: %s (vkai --help)\n", argv[1], names.c_str());
    return 2;
}
