// Pieces of the server without HTTP: the JSON prefix validator (response_format json_object), the
// <think> splitter, and the model manager (config file, aliases, load on first use, idle unload).
#include "server/json_prefix.h"
#include "server/model_manager.h"
#include "server/server.h"
#include "server/think_split.h"

#include "base/timer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

namespace vkai::server {
namespace {

bool accepts(std::string_view s, bool object_only = true) {
    JsonPrefix p(object_only);
    return p.push(s);
}

TEST(JsonPrefix, ValidDocumentsAndTheirPrefixes) {
    const char* docs[] = {
        R"({})", R"({"a":1})", R"( { "a" : [1, -2.5e+3, 0, 0.25, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"] } )",
        R"({"nested":{"b":[[],[{}],{"c":"é漢字😀"}]}})", R"({"n":-0.0E-0})",
    };
    for (const char* d : docs) {
        ASSERT_TRUE(nlohmann::json::accept(d)) << d;
        JsonPrefix p;
        for (const char* c = d; *c; ++c) ASSERT_TRUE(p.push_byte(uint8_t(*c))) << d << " at " << (c - d);
        EXPECT_TRUE(p.complete()) << d;
    }
}

TEST(JsonPrefix, RejectsInvalid) {
    for (const char* bad : {"[1]", "1", "\"s\"", "{,", "{\"a\" 1", "{\"a\":01", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":tru ", "{\"a\":[1,]}",
                            "{\"a\":1}}", "{\"a\":1} x", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}", "{'a':1}", "{\"a\":-}",
                            "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf5\x80\x80\x80\"}", "{\"a\":1e}"})
        EXPECT_FALSE(accepts(bad)) << bad;
    EXPECT_TRUE(accepts("[1, 2]", false));
    EXPECT_TRUE(accepts("{\"a\":tr")); // a prefix: still possible
    EXPECT_FALSE(accepts(std::string(100, '[') + "", false)); // deeper than the limit
}

// Against nlohmann on random byte strings built from JSON-ish characters: a whole string that
// nlohmann accepts as an object is accepted and complete; anything we call complete nlohmann accepts.
TEST(JsonPrefix, AgreesWithParserOnRandomStrings) {
    std::mt19937 rng(7);
    const std::string alphabet = "{}[]:,\"\\ 0123456789-+.eEtrufalsn\xc3\xa9x";
    int complete = 0;
    for (int iter = 0; iter < 60000; ++iter) {
        std::string s = "{";
        const int len = 1 + int(rng() % 12);
        for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
        JsonPrefix p;
        const bool ok = p.push(s);
        const bool parses = nlohmann::json::accept(s) && nlohmann::json::parse(s).is_object();
        if (parses) {
            EXPECT_TRUE(ok && p.complete()) << s;
        }
        if (ok && p.complete()) {
            EXPECT_TRUE(parses) << s;
            ++complete;
        }
    }
    EXPECT_GT(complete, 10);
}

TEST(ThinkSplitter, SplitsAcrossPieces) {
    ThinkSplitter sp;
    std::string c, r;
    for (const char* piece : {"<th", "ink>I am ", "thinking</", "think>\n\nThe answer", " is 4 <b>"}) sp.push(piece, c, r);
    sp.flush(c, r);
    EXPECT_EQ(r, "I am thinking");
    EXPECT_EQ(c, "The answer is 4 <b>");
    ThinkSplitter open(true); // the prompt opened the block
    std::string c2, r2;
    open.push("plan</think>done", c2, r2);
    open.flush(c2, r2);
    EXPECT_EQ(r2, "plan");
    EXPECT_EQ(c2, "done");
}

TEST(ModelManager, ConfigAliasesLazyLoadAndIdleUnload) {
    const std::string path = ::testing::TempDir() + "vkai_serve_cfg.json";
    {
        std::ofstream f(path);
        f << R"({"idle_ttl_s": 1, "models": [{"id": "tiny", "path": ")" << std::string(getenv("PWD") ? getenv("PWD") : ".")
          << R"(/models/stories260K.gguf", "aliases": ["gpt-4o-mini"], "ctx": 512, "parallel": 2}]})";
    }
    ServeConfig cfg;
    ASSERT_TRUE(read_config_file(path, cfg).ok());
    ASSERT_EQ(cfg.models.size(), 1u);
    EXPECT_EQ(cfg.models[0].id, "tiny");
    EXPECT_EQ(cfg.idle_ttl_s, 1);
    ModelManager mm(cfg.models, cpu_loader(2, 4), 4, 8, cfg.idle_ttl_s);
    EXPECT_EQ(mm.state("tiny"), "unloaded");
    EXPECT_EQ(mm.find("gpt-4o-mini"), &mm.specs()[0]);
    EXPECT_EQ(mm.find("tiny:latest"), &mm.specs()[0]);
    EXPECT_EQ(mm.find("../tiny"), nullptr);
    EXPECT_EQ(mm.find(""), &mm.specs()[0]);
    {
        auto e = mm.acquire("gpt-4o-mini");
        ASSERT_TRUE(e.ok()) << e.status().message();
        EXPECT_EQ((*e)->sched->n_slots(), 2);
        EXPECT_EQ((*e)->sched->slot_ctx(), 256);
        EXPECT_EQ(mm.state("tiny"), "loaded");
        std::this_thread::sleep_for(std::chrono::milliseconds(1600));
        EXPECT_EQ(mm.state("tiny"), "loaded"); // in use: never unloaded
    }
    const double t0 = now_s();
    while (mm.state("tiny") == "loaded" && now_s() - t0 < 5) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(mm.state("tiny"), "unloaded");
    EXPECT_TRUE(mm.acquire("tiny").ok()); // loads again on the next use
    EXPECT_EQ(mm.acquire("missing").status().code(), Code::not_found);
    std::remove(path.c_str());
}

// A load that fails for memory unloads the least recently used idle model and tries again.
TEST(ModelManager, EvictsLeastRecentlyUsedOnOutOfMemory) {
    std::vector<ModelSpec> specs(3);
    for (int i = 0; i < 3; ++i) specs[size_t(i)].id = "m" + std::to_string(i), specs[size_t(i)].path = "models/stories260K.gguf";
    ModelManager* mm_ptr = nullptr;
    Loader inner = cpu_loader(1, 1);
    // "Memory" for two models: a third load fails while two are loaded.
    auto loader = [&](const ModelSpec& spec) -> Result<LoadedLlm> {
        int loaded = 0;
        for (const auto& s : mm_ptr->specs()) loaded += mm_ptr->state(s.id) == "loaded";
        if (loaded >= 2) return fail(Code::out_of_memory, "no room for %s", spec.id.c_str());
        return inner(spec);
    };
    ModelManager mm(specs, loader, 1, 4, 0);
    mm_ptr = &mm;
    ASSERT_TRUE(mm.acquire("m0").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(mm.acquire("m1").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(mm.acquire("m0").ok()); // m0 used more recently than m1
    auto m2 = mm.acquire("m2");
    ASSERT_TRUE(m2.ok()) << m2.status().message();
    EXPECT_EQ(mm.state("m0"), "loaded");
    EXPECT_EQ(mm.state("m1"), "unloaded"); // the LRU one went
    EXPECT_EQ(mm.state("m2"), "loaded");
    // With both remaining models in use, nothing can be evicted: the load fails cleanly.
    auto hold0 = mm.acquire("m0");
    auto m1 = mm.acquire("m1");
    EXPECT_FALSE(m1.ok());
    EXPECT_EQ(m1.status().code(), Code::out_of_memory);
}

TEST(ModelManager, BadConfigFiles) {
    const std::string path = ::testing::TempDir() + "vkai_serve_bad.json";
    for (const char* text : {"", "[]", R"({"models": 5})", R"({"models": [{"id": "x"}]})", R"({"models": [{"path": 5}]})",
                             R"({"models": [{"path": "a.gguf", "aliases": "x"}]})", R"({"models": [{"path": "a.gguf", "ctx": -1}]})"}) {
        {
            std::ofstream f(path);
            f << text;
        }
        ServeConfig cfg;
        EXPECT_FALSE(read_config_file(path, cfg).ok()) << text;
    }
    ServeConfig cfg;
    EXPECT_FALSE(read_config_file("/nonexistent/cfg.json", cfg).ok());
    std::remove(path.c_str());
    // A load failure is an error for the request (the server keeps running), not a crash.
    ModelSpec s;
    s.id = "broken";
    s.path = "/nonexistent/model.gguf";
    ModelManager mm({s}, cpu_loader(1, 1), 1, 4, 0);
    auto e = mm.acquire("broken");
    EXPECT_FALSE(e.ok());
    EXPECT_EQ(mm.state("broken"), "failed");
}

TEST(ServerStart, RejectsBadModelNames) {
    ServeConfig cfg;
    ModelSpec a;
    a.id = "a/b";
    a.path = "x.gguf";
    cfg.models = {a};
    EXPECT_FALSE(Server::start(cfg, cpu_loader(1, 1)).ok());
    a.id = "same";
    ModelSpec b = a;
    cfg.models = {a, b};
    EXPECT_FALSE(Server::start(cfg, cpu_loader(1, 1)).ok());
    EXPECT_EQ(model_id_from_path("dir/qwen3-4b.Q4_K_M.gguf"), "qwen3-4b.Q4_K_M");
}

} // namespace
} // namespace vkai::server
