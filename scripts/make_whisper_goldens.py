"""Reference mel, encoder output, decoder logits and greedy tokens from HF transformers
(WhisperForConditionalGeneration + WhisperFeatureExtractor) for tiny random-weight whisper models,
one per shape family:
    tiny-multi  80 mel bins, vocab 51865 (multilingual, 99 languages)
    tiny-en     80 mel bins, vocab 51864 (English-only)
    tiny-v3     128 mel bins, vocab 51866 (large-v3 / large-v3-turbo layout, 100 languages)
Run on the GPU machine (transformers is there):
    python3 scripts/make_whisper_goldens.py SRC_DIR OUT_DIR
SRC_DIR holds jfk.wav and for-tests-ggml-tiny.bin (from ../shared/data/whisper). Per family, OUT_DIR gets
  whisper-<fam>.bin      the model in whisper.cpp's ggml .bin layout (our own writer, below): hparams, the
                         mel filters the feature extractor used, an EMPTY stored vocabulary (the golden test
                         compares token ids; the loader names missing tokens), tensors (f16 matrices, f32 rest)
  whisper-<fam>.mel.f32  mel of jfk.wav, frames [0, MEL_FRAMES) of every bin, row-major (n_mels, MEL_FRAMES)
  whisper-<fam>.enc.f32  encoder output (1500, d_model) row-major
  whisper-<fam>.json     prefix, logits of every prefix position at vocab ids i % LOGIT_STRIDE == 0,
                         argmax of every position over the full vocab, greedy tokens, library versions
The weights are rounded to f16 before the reference runs, so the .bin holds exactly what HF computed with."""
import json
import os
import struct
import sys
import wave

import numpy as np
import torch
import transformers
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

MEL_FRAMES = 1200  # jfk.wav is 11 s = 1100 frames; the rest of the 3000 is padding
LOGIT_STRIDE = 16
N_GREEDY = 12

FAMILIES = {
    # name: (vocab, n_mels, eot, sot, first language id, transcribe, notimestamps)
    "tiny-multi": (51865, 80, 50257, 50258, 50259, 50359, 50363),
    "tiny-en": (51864, 80, 50256, 50257, None, None, 50362),
    "tiny-v3": (51866, 128, 50257, 50258, 50259, 50360, 50364),
}
D, HEADS, LAYERS, FFN = 16, 2, 2, 64


def read_bin_filters(path):
    b = open(path, "rb").read()
    n_mel, n_fft = struct.unpack("<2i", b[48:56])
    return np.frombuffer(b[56:56 + 4 * n_mel * n_fft], dtype="<f4").reshape(n_mel, n_fft).copy()


def read_wav(path):
    with wave.open(path) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


# ggml type ids
F32, F16 = 0, 1
NAME_MAP = [  # HF suffix -> whisper.cpp suffix, inside a layer
    ("self_attn.q_proj", "attn.query"), ("self_attn.k_proj", "attn.key"), ("self_attn.v_proj", "attn.value"),
    ("self_attn.out_proj", "attn.out"), ("self_attn_layer_norm", "attn_ln"),
    ("encoder_attn.q_proj", "cross_attn.query"), ("encoder_attn.k_proj", "cross_attn.key"),
    ("encoder_attn.v_proj", "cross_attn.value"), ("encoder_attn.out_proj", "cross_attn.out"),
    ("encoder_attn_layer_norm", "cross_attn_ln"), ("fc1", "mlp.0"), ("fc2", "mlp.2"), ("final_layer_norm", "mlp_ln"),
]


def ggml_name(hf):
    n = hf.replace("model.", "", 1)
    top = {"encoder.embed_positions.weight": "encoder.positional_embedding",
           "decoder.embed_positions.weight": "decoder.positional_embedding",
           "decoder.embed_tokens.weight": "decoder.token_embedding.weight",
           "encoder.layer_norm.weight": "encoder.ln_post.weight", "encoder.layer_norm.bias": "encoder.ln_post.bias",
           "decoder.layer_norm.weight": "decoder.ln.weight", "decoder.layer_norm.bias": "decoder.ln.bias"}
    if n in top:
        return top[n]
    if n.startswith("encoder.conv"):
        return n
    part, _, idx, rest = n.split(".", 3)
    for a, b in NAME_MAP:
        if rest.startswith(a + "."):
            return "%s.blocks.%s.%s%s" % (part, idx, b, rest[len(a):])
    raise KeyError(hf)


def write_bin(path, hp, filters, tensors):
    """whisper.cpp ggml .bin: magic, 11 i32 hparams, filters (i32 n_mel, i32 n_fft, f32 data), i32 vocab count
    (0 here) + entries, then tensors (i32 n_dims, i32 name length, i32 type, n_dims i32 dims innermost first,
    name, data) until the end of the file."""
    out = bytearray(struct.pack("<I", 0x67676d6c))
    out += struct.pack("<11i", *hp)
    out += struct.pack("<2i", *filters.shape) + filters.astype("<f4").tobytes()
    out += struct.pack("<i", 0)
    for name, arr in tensors:
        f16 = arr.ndim >= 2 and name not in ("encoder.positional_embedding",) and not name.endswith("bias")
        data = arr.astype("<f2" if f16 else "<f4")
        nb = name.encode()
        out += struct.pack("<3i", arr.ndim, len(nb), F16 if f16 else F32)
        out += struct.pack("<%di" % arr.ndim, *reversed(arr.shape))
        out += nb + data.tobytes()
    open(path, "wb").write(out)


def main():
    src, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    audio = read_wav(os.path.join(src, "jfk.wav"))
    filters80 = read_bin_filters(os.path.join(src, "for-tests-ggml-tiny.bin"))
    torch.manual_seed(0)
    for fam, (vocab, n_mels, eot, sot, lang0, transcribe, notimestamps) in FAMILIES.items():
        fe = WhisperFeatureExtractor(feature_size=n_mels)
        if n_mels == 80:
            fe.mel_filters = filters80.T.astype(np.float64)  # (n_freq, n_mels): the file's filters
        filters = fe.mel_filters.T.astype(np.float32)
        feats = fe(audio, sampling_rate=16000, return_tensors="np").input_features  # (1, n_mels, 3000)
        cfg = WhisperConfig(vocab_size=vocab, num_mel_bins=n_mels, d_model=D, encoder_layers=LAYERS, decoder_layers=LAYERS,
                            encoder_attention_heads=HEADS, decoder_attention_heads=HEADS, encoder_ffn_dim=FFN,
                            decoder_ffn_dim=FFN, max_source_positions=1500, max_target_positions=448,
                            activation_function="gelu", eos_token_id=eot, decoder_start_token_id=sot, pad_token_id=eot,
                            bos_token_id=eot, scale_embedding=False)
        model = WhisperForConditionalGeneration(cfg).eval()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "embed_positions" in name and "encoder" in name:
                    continue  # sinusoids, as trained models have
                if "layer_norm" in name and name.endswith("weight"):
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                else:
                    p.copy_(0.25 * torch.randn_like(p))
            sd = model.state_dict()
            tensors = []
            for name, t in sd.items():
                if name.startswith("proj_out"):
                    continue  # tied to the token embedding
                g = ggml_name(name)
                a = t.float().numpy()
                if g in ("encoder.conv1.bias", "encoder.conv2.bias"):
                    a = a.reshape(a.shape[0], 1)  # whisper.cpp files store conv biases as (n_state, 1)
                f16 = a.ndim >= 2 and g != "encoder.positional_embedding" and not g.endswith("bias")
                if f16:  # the reference runs with the f16-rounded weights the file holds
                    a = a.astype(np.float16).astype(np.float32)
                    t.copy_(torch.from_numpy(a.reshape(t.shape)))
                tensors.append((g, a))
            # tied head follows the rounded embedding
            model.proj_out.weight = model.model.decoder.embed_tokens.weight
            hp = [vocab, 1500, D, HEADS, LAYERS, 448, D, HEADS, LAYERS, n_mels, 1]
            write_bin(os.path.join(out_dir, "whisper-%s.bin" % fam), hp, filters, tensors)

            x = torch.from_numpy(feats)
            enc = model.model.encoder(x).last_hidden_state  # (1, 1500, D)
            if lang0 is None:
                prefix = [sot, notimestamps]
            else:
                prefix = [sot, lang0, transcribe, notimestamps]
            forced = prefix + [440, 1770, 13, 2425]
            logits = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([forced])).logits[0].numpy()
            greedy = list(prefix)
            for _ in range(N_GREEDY):
                lg = model(encoder_outputs=(enc,), decoder_input_ids=torch.tensor([greedy])).logits[0, -1]
                greedy.append(int(torch.argmax(lg)))
        feats[0, :, :MEL_FRAMES].astype("<f4").tofile(os.path.join(out_dir, "whisper-%s.mel.f32" % fam))
        enc[0].numpy().astype("<f4").tofile(os.path.join(out_dir, "whisper-%s.enc.f32" % fam))
        meta = {
            "family": fam, "n_vocab": vocab, "n_mels": n_mels, "d_model": D, "heads": HEADS, "layers": LAYERS, "ffn": FFN,
            "mel_frames": MEL_FRAMES, "mel_pad_value": float(feats[0, 0, -1]), "mel_max": float(feats.max()),
            "forced": forced, "logit_stride": LOGIT_STRIDE,
            "logits": [[float("%.9g" % v) for v in row[::LOGIT_STRIDE]] for row in logits],  # 9 digits: exact for f32
            "argmax": [int(np.argmax(row)) for row in logits], "greedy_prefix": len(prefix), "greedy": greedy,
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__, "numpy": np.__version__},
        }
        with open(os.path.join(out_dir, "whisper-%s.json" % fam), "w") as f:
            json.dump(meta, f, separators=(",", ":"))
        print(fam, "enc", float(enc.abs().mean()), "greedy", greedy, "argmax", meta["argmax"])


if __name__ == "__main__":
    main()
