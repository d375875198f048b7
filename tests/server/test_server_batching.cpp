// Continuous batching under load: 16 concurrent streaming clients with fixed seeds get the same text
// as single-client runs; the numerics of a sequence do not depend on what else is in the batch; a
// dropped stream frees its slot within 250 ms; a full queue answers 429.
#include "server_fixture.h"

#include "base/thread_pool.h"
#include "base/timer.h"
#include "cpu/cpu.h"
#include "tensor/tensor.h"
#include "llm/forward.h"
#include "llm/model.h"

#include <atomic>
#include <cstring>
#include <thread>

namespace vkai::server::testing {
namespace {

// Logits of one sequence's last prompt token: alone, next to another sequence in one batch, and
// with the prompt split so the last token is decoded as a batch of one.
void check_batch_independence() {
    auto m = llm::Model::load(kModel);
    ASSERT_TRUE(m.ok()) << m.status().message();
    llm::ContextParams cp;
    cp.n_ctx = 256;
    cp.threads = 2;
    auto ctx = llm::Context::create(*m, cp);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    llm::Context& c = **ctx;
    const int64_t nv = m->hp().n_vocab;
    const std::vector<int32_t> p = m->tokenizer().encode("Once upon a time there was a little dog", true, false);
    const std::vector<int32_t> other = m->tokenizer().encode("The cat sat on the mat and looked", true, false);
    ASSERT_GT(p.size(), 4u);

    auto run = [&](bool with_other, bool split_last) {
        c.kv().clear();
        llm::Batch b;
        if (with_other)
            for (size_t i = 0; i < other.size(); ++i) b.add(other[i], int32_t(i), 1, false);
        const size_t n = split_last ? p.size() - 1 : p.size();
        for (size_t i = 0; i < n; ++i) b.add(p[i], int32_t(i), 0, !split_last && i + 1 == p.size());
        EXPECT_TRUE(c.decode(b).ok());
        if (split_last) {
            b.clear();
            b.add(p.back(), int32_t(p.size() - 1), 0, true);
            if (with_other) b.add(other[0], int32_t(other.size()), 1, true); // a neighbour generating
            EXPECT_TRUE(c.decode(b).ok());
        }
        return std::vector<float>(c.logits(0), c.logits(0) + nv);
    };
    const auto alone = run(false, false);
    const auto mixed = run(true, false);
    const auto split = run(false, true);
    const auto split_mixed = run(true, true);
    auto max_diff = [&](const std::vector<float>& a, const std::vector<float>& b) {
        float d = 0;
        for (int64_t i = 0; i < nv; ++i) d = std::max(d, std::fabs(a[size_t(i)] - b[size_t(i)]));
        return d;
    };
    // Bit-identical: the server's "same seed, same text under load" rests on this.
    EXPECT_EQ(0, std::memcmp(alone.data(), mixed.data(), sizeof(float) * size_t(nv))) << "max |diff| " << max_diff(alone, mixed);
    EXPECT_EQ(0, std::memcmp(split.data(), split_mixed.data(), sizeof(float) * size_t(nv))) << "max |diff| " << max_diff(split, split_mixed);
    EXPECT_EQ(0, std::memcmp(alone.data(), split.data(), sizeof(float) * size_t(nv))) << "max |diff| " << max_diff(alone, split);
}

// The portable kernels, attention, KV cache and masks: a sequence's logits are bit-identical
// whatever else is in the batch.
TEST(Batching, LogitsIndependentOfBatchCompositionScalar) {
    cpu::force_scalar(true);
    check_batch_independence();
    cpu::force_scalar(false);
}

// The same with the AVX2 kernels (every (row, column) dot product of the float mul_mat sums in
// one order whatever the number of columns: src/cpu/matmul_avx2.cpp, float_rows).
TEST(Batching, LogitsIndependentOfBatchCompositionSimd) { check_batch_independence(); }

// The float matmul on its own: column 0 of W*x alone, in a batch of 2 and of 5 (odd: a pair pass
// and a single column), bit-identical.
TEST(Batching, SimdMatmulColumnPassIndependence) {
    if (!cpu::simd_enabled()) GTEST_SKIP() << "no AVX2 kernels on this machine";
    ThreadPool pool(1);
    std::vector<float> w(64 * 67), x(67 * 5), y1(64), y2(64 * 2), y5(64 * 5);
    for (size_t i = 0; i < w.size(); ++i) w[i] = float((i * 7919) % 101) / 50.0f - 1.0f;
    for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 104729) % 97) / 48.0f - 1.0f;
    Tensor W = make_tensor(DType::F32, w.data(), 67, 64);
    Tensor X1 = make_tensor(DType::F32, x.data(), 67, 1), Y1 = make_tensor(DType::F32, y1.data(), 64, 1);
    Tensor X2 = make_tensor(DType::F32, x.data(), 67, 2), Y2 = make_tensor(DType::F32, y2.data(), 64, 2);
    Tensor X5 = make_tensor(DType::F32, x.data(), 67, 5), Y5 = make_tensor(DType::F32, y5.data(), 64, 5);
    cpu::mul_mat(W, X1, Y1, pool);
    cpu::mul_mat(W, X2, Y2, pool);
    cpu::mul_mat(W, X5, Y5, pool);
    EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), 64 * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(y1.data(), y5.data(), 64 * sizeof(float)));
    // Column 4 (the single leftover of 5) equals it computed alone.
    Tensor X1b = make_tensor(DType::F32, x.data() + 4 * 67, 67, 1);
    cpu::mul_mat(W, X1b, Y1, pool);
    EXPECT_EQ(0, std::memcmp(y1.data(), y5.data() + 4 * 64, 64 * sizeof(float)));
}

json stream_body(int seed, int max_tokens) {
    return {{"messages", {{{"role", "user"}, {"content", "Tell me a story about a dog named " + std::to_string(seed)}}}},
            {"max_tokens", max_tokens}, {"seed", seed}, {"temperature", 0.9}, {"stream", true}, {"cache_prompt", false}};
}

std::string stream_text(const SseResult& s) {
    std::string text;
    for (const auto& d : s.data) {
        if (d == "[DONE]") continue;
        json j = json::parse(d, nullptr, false);
        if (j.is_discarded() || !j.contains("choices") || j["choices"].empty()) continue;
        const json& delta = j["choices"][0]["delta"];
        if (delta.contains("content") && delta["content"].is_string()) text += delta["content"].get<std::string>();
    }
    return text;
}

TEST(Batching, SixteenConcurrentStreamsMatchSingleRuns) {
    ServeConfig cfg;
    auto srv = start_server(cfg, 8);
    ASSERT_TRUE(srv);
    const int port = srv->port();
    constexpr int kClients = 16, kTokens = 24;
    std::vector<std::string> single(kClients), multi(kClients);
    for (int i = 0; i < kClients; ++i) {
        SseResult s = post_sse(port, "/v1/chat/completions", stream_body(100 + i, kTokens));
        ASSERT_EQ(s.status, 200);
        ASSERT_EQ(s.data.back(), "[DONE]");
        single[i] = stream_text(s);
        ASSERT_FALSE(single[i].empty());
    }
    std::vector<std::thread> th;
    std::vector<int> status(kClients);
    std::vector<std::string> last(kClients);
    for (int i = 0; i < kClients; ++i)
        th.emplace_back([&, i] {
            SseResult s = post_sse(port, "/v1/chat/completions", stream_body(100 + i, kTokens));
            status[i] = s.status;
            last[i] = s.data.empty() ? "" : s.data.back();
            multi[i] = stream_text(s);
        });
    for (auto& t : th) t.join();
    int distinct = 0;
    for (int i = 0; i < kClients; ++i) {
        EXPECT_EQ(status[i], 200);
        EXPECT_EQ(last[i], "[DONE]");
        EXPECT_EQ(multi[i], single[i]) << "client " << i;
        if (i > 0 && single[i] != single[i - 1]) ++distinct;
    }
    EXPECT_GT(distinct, 0); // the clients really got independent outputs
    // Batching happened: fewer decode steps than tokens generated.
    auto e = srv->models().loaded();
    ASSERT_EQ(e.size(), 1u);
    SchedulerMetrics m = e[0]->sched->metrics();
    EXPECT_EQ(m.slots_busy, 0);
    EXPECT_EQ(m.queue_len, 0);
    EXPECT_LT(m.steps, m.tokens_generated); // several slots' tokens shared decode steps
    srv.reset();
}

TEST(Batching, DisconnectFreesSlotWithin250ms) {
    ServeConfig cfg;
    auto srv = start_server(cfg, 2, 2 * 4096);
    ASSERT_TRUE(srv);
    const int port = srv->port();
    ASSERT_EQ(get(port, "/v1/models")->status, 200);
    auto eng = srv->models().acquire("stories260K");
    ASSERT_TRUE(eng.ok());
    Scheduler& sched = *(*eng)->sched;
    for (int round = 0; round < 3; ++round) {
        const std::string body = json{{"prompt", "Once upon a time"}, {"max_tokens", 4000}, {"ignore_eos", true}, {"stream", true}}.dump();
        int fd = connect_raw(port);
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n" + body));
        // Read until some generated text has arrived.
        std::string got;
        char buf[4096];
        while (got.find("\"text\"") == std::string::npos) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            ASSERT_GT(n, 0);
            got.append(buf, size_t(n));
        }
        EXPECT_EQ(sched.metrics().slots_busy, 1);
        const uint64_t before = sched.metrics().tokens_generated;
        ::close(fd);
        const double t0 = now_s();
        while (sched.metrics().slots_busy != 0 && now_s() - t0 < 5) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const double ms = (now_s() - t0) * 1e3;
        EXPECT_EQ(sched.metrics().slots_busy, 0);
        EXPECT_LT(ms, 250.0) << "slot freed after " << ms << " ms";
        EXPECT_LT(sched.metrics().tokens_generated - before, 3900u); // cancelled, not run to the end
    }
    // The KV cells of the cancelled sequences are free again.
    EXPECT_EQ((*eng)->llm.ctx->kv().used(), 0);
    // And the server still answers.
    EXPECT_EQ(post_json(port, "/v1/completions", R"({"prompt":"Once","max_tokens":3})")->status, 200);
}

TEST(Batching, FullQueueAnswers429) {
    ServeConfig cfg;
    cfg.max_queue = 1;
    auto srv = start_server(cfg, 1, 16384);
    ASSERT_TRUE(srv);
    const int port = srv->port();
    auto eng = srv->models().acquire("");
    ASSERT_TRUE(eng.ok());
    Scheduler& sched = *(*eng)->sched;
    // A stream that runs until we drop it occupies the only slot...
    const std::string body = json{{"prompt", "Once upon a time"}, {"max_tokens", 100000}, {"ignore_eos", true}, {"stream", true}}.dump();
    int fd = connect_raw(port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body));
    const double t0 = now_s();
    while (sched.metrics().slots_busy < 1 && now_s() - t0 < 10) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    // ...a second request waits in the queue (its bound is 1)...
    int second = 0;
    std::thread waiter([&] {
        auto r = post_json(port, "/v1/completions", R"({"prompt":"Once","max_tokens":3})");
        second = r ? r->status : -1;
    });
    while (sched.metrics().queue_len < 1 && now_s() - t0 < 10) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_EQ(sched.metrics().queue_len, 1);
    // ...so a third one is refused at once.
    expect_error(post_json(port, "/v1/completions", R"({"prompt":"Once","max_tokens":3})"), 429);
    ::close(fd); // the stream goes away, the queued request gets the slot
    waiter.join();
    EXPECT_EQ(second, 200);
}

} // namespace
} // namespace vkai::server::testing
