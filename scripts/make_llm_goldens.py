"""Reference logits and greedy tokens from HF transformers for tiny random-weight models of every
architecture vkai runs. Writes, per model, <name>.gguf (F32 weights, converted with the GGUF
conventions: ggml dim order, llama q/k rows permuted for interleaved rope) and <name>.json (prompt,
logits at every position, 16 greedy tokens). Run on the GPU machine (transformers is there):
    python3 scripts/make_llm_goldens.py OUT_DIR
The tokenizer is synthetic (SentencePiece layout: <unk> <s> </s>, 256 byte tokens, filler pieces):
the goldens feed token ids directly, but vkai's loader needs a valid vocabulary."""
import json
import os
import sys

import numpy as np
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_mini import Writer  # noqa: E402

VOCAB = 320
PROMPT = [1, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 300, 7, 288]
N_GREEDY = 16

BASE = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-6, initializer_range=0.15,
            bos_token_id=1, eos_token_id=2, attn_implementation="eager")

MODELS = {
    # name: (HF config class, GGUF arch, config overrides)
    "llama": ("LlamaConfig", "llama", dict(rope_theta=10000.0, tie_word_embeddings=False)),
    "mistral": ("MistralConfig", "llama", dict(rope_theta=1000000.0, tie_word_embeddings=False, sliding_window=None)),
    "qwen2": ("Qwen2Config", "qwen2", dict(rope_theta=1000000.0, tie_word_embeddings=True)),
    "qwen3": ("Qwen3Config", "qwen3", dict(rope_theta=1000000.0, tie_word_embeddings=True, head_dim=32)),
    "qwen3moe": ("Qwen3MoeConfig", "qwen3moe", dict(rope_theta=1000000.0, tie_word_embeddings=False, head_dim=16, num_experts=8,
                                                  num_experts_per_tok=2, moe_intermediate_size=48, norm_topk_prob=True,
                                                  decoder_sparse_step=1, mlp_only_layers=[])),
    # Fused qkv_proj and gate_up_proj; pad_token_id must be inside the tiny vocabulary.
    "phi3": ("Phi3Config", "phi3", dict(rope_theta=10000.0, tie_word_embeddings=False, sliding_window=None, pad_token_id=0)),
    # Sliding-window attention over the 16-token prompt: each token sees the last 6 positions.
    "phi3swa": ("Phi3Config", "phi3", dict(rope_theta=10000.0, tie_word_embeddings=False, sliding_window=6, pad_token_id=0)),
}


def permute_for_interleaved_rope(w, n_head):
    # HF llama rotates (x[i], x[i + d/2]); GGUF llama files rotate (x[2i], x[2i+1]): reorder the rows of
    # q and k so both give the same attention.
    out, inp = w.shape
    return w.reshape(n_head, 2, out // n_head // 2, inp).swapaxes(1, 2).reshape(out, inp)


def tokenizer_kv(w):
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    tokens += ["\u2581tok%d" % i for i in range(VOCAB - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (VOCAB - 259)
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(VOCAB - 259)]
    w.add("tokenizer.ggml.model", "str", "llama")
    w.add("tokenizer.ggml.tokens", ("arr", "str"), tokens)
    w.add("tokenizer.ggml.scores", ("arr", "f32"), scores)
    w.add("tokenizer.ggml.token_type", ("arr", "i32"), types)
    w.add("tokenizer.ggml.unknown_token_id", "u32", 0)
    w.add("tokenizer.ggml.bos_token_id", "u32", 1)
    w.add("tokenizer.ggml.eos_token_id", "u32", 2)
    w.add("tokenizer.ggml.add_bos_token", "bool", True)


def export(name, cls, arch, overrides, out_dir):
    torch.manual_seed(1234)
    kw = {**BASE, **overrides}
    theta = kw.pop("rope_theta")
    # transformers >= 5 takes rope settings as rope_parameters; older versions as rope_theta.
    if int(transformers.__version__.split(".")[0]) >= 5:
        kw["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        kw["rope_theta"] = theta
    cfg = getattr(transformers, cls)(**kw)
    model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
    rp = getattr(cfg, "rope_parameters", None)
    used_theta = rp["rope_theta"] if isinstance(rp, dict) else cfg.rope_theta
    assert float(used_theta) == float(theta), (used_theta, theta)
    sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head

    w = Writer()
    a = arch + "."
    w.add("general.architecture", "str", arch)
    w.add("general.name", "str", "vkai golden " + name)
    w.add(a + "context_length", "u32", cfg.max_position_embeddings)
    w.add(a + "embedding_length", "u32", cfg.hidden_size)
    w.add(a + "block_count", "u32", cfg.num_hidden_layers)
    w.add(a + "feed_forward_length", "u32", cfg.intermediate_size)
    w.add(a + "attention.head_count", "u32", n_head)
    w.add(a + "attention.head_count_kv", "u32", n_kv)
    w.add(a + "attention.key_length", "u32", head_dim)
    w.add(a + "attention.value_length", "u32", head_dim)
    w.add(a + "rope.dimension_count", "u32", head_dim)
    w.add(a + "rope.freq_base", "f32", float(theta))
    w.add(a + "attention.layer_norm_rms_epsilon", "f32", float(cfg.rms_norm_eps))
    if getattr(cfg, "sliding_window", None):
        w.add(a + "attention.sliding_window", "u32", int(cfg.sliding_window))
    if arch == "qwen3moe":
        w.add(a + "expert_count", "u32", cfg.num_experts)
        w.add(a + "expert_used_count", "u32", cfg.num_experts_per_tok)
        w.add(a + "expert_feed_forward_length", "u32", cfg.moe_intermediate_size)
    tokenizer_kv(w)

    w.tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    for i in range(cfg.num_hidden_layers):
        p, b = "model.layers.%d." % i, "blk.%d." % i
        w.tensor(b + "attn_norm.weight", sd[p + "input_layernorm.weight"])
        if p + "self_attn.qkv_proj.weight" in sd:  # phi3: rows [q | k | v], kept fused as in GGUF
            w.tensor(b + "attn_qkv.weight", sd[p + "self_attn.qkv_proj.weight"])
        else:
            q, k = sd[p + "self_attn.q_proj.weight"], sd[p + "self_attn.k_proj.weight"]
            if arch == "llama":
                q, k = permute_for_interleaved_rope(q, n_head), permute_for_interleaved_rope(k, n_kv)
            w.tensor(b + "attn_q.weight", q)
            w.tensor(b + "attn_k.weight", k)
            w.tensor(b + "attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        for proj in ("q", "k", "v"):
            if p + "self_attn.%s_proj.bias" % proj in sd:
                w.tensor(b + "attn_%s.bias" % proj, sd[p + "self_attn.%s_proj.bias" % proj])
        if p + "self_attn.q_norm.weight" in sd:
            w.tensor(b + "attn_q_norm.weight", sd[p + "self_attn.q_norm.weight"])
            w.tensor(b + "attn_k_norm.weight", sd[p + "self_attn.k_norm.weight"])
        w.tensor(b + "attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        w.tensor(b + "ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        if arch == "qwen3moe":
            w.tensor(b + "ffn_gate_inp.weight", sd[p + "mlp.gate.weight"])
            E = cfg.num_experts
            if p + "mlp.experts.0.gate_proj.weight" in sd:
                gate = np.stack([sd[p + "mlp.experts.%d.gate_proj.weight" % e] for e in range(E)])
                up = np.stack([sd[p + "mlp.experts.%d.up_proj.weight" % e] for e in range(E)])
                down = np.stack([sd[p + "mlp.experts.%d.down_proj.weight" % e] for e in range(E)])
            elif p + "mlp.experts.gate_up_proj" in sd:
                # Fused experts (transformers 5): gate_up (E, 2*ff, embd), gate first; down (E, embd, ff).
                gu, ff = sd[p + "mlp.experts.gate_up_proj"], cfg.moe_intermediate_size
                dn = sd[p + "mlp.experts.down_proj"]
                if gu.shape != (E, 2 * ff, cfg.hidden_size) or dn.shape != (E, cfg.hidden_size, ff):
                    raise SystemExit("unexpected fused expert shapes %s %s" % (gu.shape, dn.shape))
                gate, up, down = gu[:, :ff, :], gu[:, ff:, :], dn
            else:
                raise SystemExit("unknown expert layout: " + ", ".join("%s%s" % (k, sd[k].shape) for k in sd if k.startswith(p + "mlp.")))
            w.tensor(b + "ffn_gate_exps.weight", gate)  # (E, ff, embd) -> ne (embd, ff, E)
            w.tensor(b + "ffn_up_exps.weight", up)
            w.tensor(b + "ffn_down_exps.weight", down)  # (E, embd, ff) -> ne (ff, embd, E)
        elif p + "mlp.gate_up_proj.weight" in sd:  # phi3: rows [gate | up], kept fused as in GGUF
            w.tensor(b + "ffn_up.weight", sd[p + "mlp.gate_up_proj.weight"])
            w.tensor(b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])
        else:
            w.tensor(b + "ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
            w.tensor(b + "ffn_up.weight", sd[p + "mlp.up_proj.weight"])
            w.tensor(b + "ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    w.tensor("output_norm.weight", sd["model.norm.weight"])
    if not cfg.tie_word_embeddings:
        w.tensor("output.weight", sd["lm_head.weight"])
    w.write(os.path.join(out_dir, name + ".gguf"))

    with torch.no_grad():
        ids = torch.tensor([PROMPT])
        logits = model(ids).logits[0].double().numpy()
        seq, margins = list(PROMPT), []
        for _ in range(N_GREEDY):
            last = model(torch.tensor([seq])).logits[0, -1].double().numpy()
            top2 = np.sort(last)[-2:]
            margins.append(float(top2[1] - top2[0]))
            seq.append(int(np.argmax(last)))
    golden = {
        "format_version": 1, "name": name, "arch": arch, "hf_config_class": cls,
        "torch": torch.__version__, "transformers": transformers.__version__,
        "prompt": PROMPT, "n_vocab": VOCAB,
        "logits": [[float("%.7g" % x) for x in row] for row in logits],
        "greedy": seq[len(PROMPT):], "greedy_min_margin": min(margins),
    }
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(golden, f)
    print("%-9s greedy %s  min top1-top2 margin %.4f" % (name, golden["greedy"], golden["greedy_min_margin"]))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/models/golden"
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(4)
    print("torch", torch.__version__, "transformers", transformers.__version__)
    for name, (cls, arch, over) in MODELS.items():
        export(name, cls, arch, over, out_dir)


if __name__ == "__main__":
    main()
