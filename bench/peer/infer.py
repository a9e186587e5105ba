#!/usr/bin/env python3
"""PyTorch peer of bench/infer.ts: GPT-2 inference on CPU with the same shapes and the same weights.

Runs one phase per process (so the peak RSS of decode is decode's own) and prints one line
`PEER {json}`. Weights are made here from the same counter hash as src/tensor/hash.ts, tensor by tensor in
the HF layout, so that both sides compute the same model and the bench can compare their outputs.

forward, decode (greedy, one row) and batched (greedy, --rows rows of one step each): a plain nanoGPT-style
model (no transformers): fp32, torch.set_num_threads(2), inference_mode, scaled_dot_product_attention (plain
matmul-softmax-matmul for one-token decode steps, where it is much faster), a preallocated KV cache.
sampled: transformers' GPT2LMHeadModel over the same weights, generate(do_sample=True, top_k=50, top_p=0.95,
temperature=1.0, min_new_tokens=max_new_tokens=--new) (EOS never ends it). Timed with time.perf_counter.

usage: infer.py --phase forward|decode|sampled|batched [--layers 12] [--embd 768] [--heads 12] [--vocab 50257]
                [--positions 1024] [--batch 4] [--seq 128] [--prompt 16] [--new 128] [--rows 4] [--runs 5]
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
    print("PEER " + json.dumps({"error": f"{type(e).__name__}: {e}"}))
    sys.exit(0)


def hash_uniform(seed: int, n: int, start: int = 0) -> np.ndarray:
    """hashUniform(seed, i) for i in [start, start + n), as float64 in [0, 1) (src/tensor/hash.ts, bit for bit)."""
    x = np.arange(start, start + n, dtype=np.uint32)
    x += np.uint32((seed * 0x9E3779B9) & 0xFFFFFFFF)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return (x >> np.uint32(8)).astype(np.float64) / 16777216.0


def layout(L: int, C: int, V: int, P: int):
    """HF GPT-2 parameter names and shapes, in the order of src/model/weights.ts (Conv1D weights [in, out])."""
    out = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for i in range(L):
        p = f"h.{i}."
        out += [
            (p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
            (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
            (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
            (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
            (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
            (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,)),
        ]
    out += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return out


def make_weights(L: int, C: int, V: int, P: int):
    """Tensor number i (1-based seed) of the layout: matrices uniform with std 0.02, biases std 0.01,
    layernorm weights 1 + uniform(std 0.1), layernorm biases std 0.01 (bench/infer.ts does the same)."""
    w = {}
    chunk = 1 << 22  # in pieces, so that making the weights does not raise the peak RSS
    for i, (name, shape) in enumerate(layout(L, C, V, P)):
        n = int(np.prod(shape))
        if len(shape) == 2:
            std, base = 0.02, 0.0
        elif name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            std, base = 0.1, 1.0
        else:
            std, base = 0.01, 0.0
        flat = np.empty(n, dtype=np.float32)
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            u = (hash_uniform(i + 1, m, s) - 0.5) * (2.0 * math.sqrt(3.0))  # uniform, std 1
            flat[s:s + m] = base + std * u
        w[name] = torch.from_numpy(flat.reshape(shape))
    return w


class GPT2:
    def __init__(self, w, L, C, NH, eps=1e-5):
        self.w, self.L, self.C, self.NH, self.eps = w, L, C, NH, eps

    def linear(self, x, name):
        # x [N, in] @ W [in, out] + b
        return torch.addmm(self.w[name + ".bias"], x, self.w[name + ".weight"])

    def forward(self, ids, pos, cache=None, past=0, last_only=False):
        """ids, pos [B, T] -> logits [B, T, V] (or [B, V] for the last position)."""
        w, C, NH = self.w, self.C, self.NH
        B, T = ids.shape
        hs = C // NH
        x = (w["wte.weight"][ids] + w["wpe.weight"][pos]).reshape(B * T, C)  # [BT, C]
        for i in range(self.L):
            p = f"h.{i}."
            h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = self.linear(h, p + "attn.c_attn").view(B, T, 3, NH, hs)
            q, k, v = qkv.unbind(2)  # [B, T, NH, hs]
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, NH, T, hs]
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                kc, vc = cache[i]  # [B, NH, S, hs]
                kc[:, :, past:past + T] = k
                vc[:, :, past:past + T] = v
                kk, vv = kc[:, :, :past + T], vc[:, :, :past + T]
                if T == 1:
                    # one query: plain matmul-softmax-matmul; torch 2.13's CPU SDPA kernel takes ~35x longer
                    # here (8 ms against 0.2 ms per call measured on this machine), which would flatter us
                    y = torch.softmax((q @ kk.transpose(-1, -2)) * (1.0 / math.sqrt(hs)), dim=-1) @ vv
                else:
                    y = F.scaled_dot_product_attention(q, kk, vv, is_causal=(past == 0))
            y = y.transpose(1, 2).reshape(B * T, C)
            x = x + self.linear(y, p + "attn.c_proj")
            h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            h = F.gelu(self.linear(h, p + "mlp.c_fc"), approximate="tanh")
            x = x + self.linear(h, p + "mlp.c_proj")
        x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], self.eps).view(B, T, C)
        if last_only:
            x = x[:, -1]
        return x @ w["wte.weight"].t()

    def generate(self, prompts, new_tokens):
        """Greedy decoding of equal-length sequences with a KV cache, one step for all rows; returns the new
        token ids of each row."""
        C, NH = self.C, self.NH
        B, P = len(prompts), len(prompts[0])
        S = P + new_tokens
        cache = [(torch.zeros(B, NH, S, C // NH), torch.zeros(B, NH, S, C // NH)) for _ in range(self.L)]
        ids = torch.tensor(prompts, dtype=torch.long)
        pos = torch.arange(P).unsqueeze(0).expand(B, P)
        logits = self.forward(ids, pos, cache, 0, last_only=True)  # [B, V]
        out = [[] for _ in range(B)]
        past = P
        for step in range(new_tokens):
            tok = torch.argmax(logits, dim=-1)  # [B]
            for b in range(B):
                out[b].append(int(tok[b]))
            if step + 1 == new_tokens:
                break
            logits = self.forward(tok.view(B, 1), torch.full((B, 1), past), cache, past, last_only=True)
            past += 1
        return out


def hf_model(w, L, C, NH, V, P):
    """transformers' GPT2LMHeadModel holding the weights w (HF names without "transformer.")."""
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config(n_layer=L, n_embd=C, n_head=NH, vocab_size=V, n_positions=P)
    model = GPT2LMHeadModel(cfg).eval()
    with torch.no_grad():
        for name, t in w.items():
            model.transformer.get_parameter(name).copy_(t)
    model.tie_weights()
    return model


def bench_ids(n: int, vocab: int, seed: int):
    """token ids from the shared hash (bench/infer.ts draws the same)"""
    return [int(u * vocab) for u in hash_uniform(seed, n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=["forward", "decode", "sampled", "batched"], required=True)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--positions", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--prompt", type=int, default=16)
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    model = GPT2(make_weights(a.layers, a.embd, a.vocab, a.positions), a.layers, a.embd, a.heads)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(), "phase": a.phase}
    with torch.inference_mode():
        if a.phase == "forward":
            B, T = a.batch, a.seq
            ids = torch.tensor(bench_ids(B * T, a.vocab, 7)).view(B, T)
            pos = torch.arange(T).unsqueeze(0).expand(B, T)
            model.forward(ids, pos)  # warm-up
            times = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                logits = model.forward(ids, pos)  # [B, T, V]
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            res.update(tokens_per_s=B * T / med, seconds=times,
                       checksum=[float(logits[b, t].double().sum()) for b in range(B) for t in (0, T - 1)],
                       argmax=[int(logits[b, t].argmax()) for b in range(B) for t in (0, T - 1)])
        elif a.phase == "sampled":
            import transformers
            hf = hf_model(model.w, a.layers, a.embd, a.heads, a.vocab, a.positions)
            del model
            ids = torch.tensor([bench_ids(a.prompt, a.vocab, 11)])
            kw = dict(attention_mask=torch.ones_like(ids), do_sample=True, top_k=50, top_p=0.95, temperature=1.0,
                      pad_token_id=a.vocab - 1)
            torch.manual_seed(1)
            hf.generate(ids, max_new_tokens=4, min_new_tokens=4, **kw)  # warm-up
            times = []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                out = hf.generate(ids, max_new_tokens=a.new, min_new_tokens=a.new, **kw)
                times.append(time.perf_counter() - t0)
            assert out.shape[1] == ids.shape[1] + a.new
            res.update(tokens_per_s=a.new / statistics.median(times), seconds=times,
                       tokens=[int(t) for t in out[0, ids.shape[1]:]], transformers=transformers.__version__)
        else:
            rows = a.rows if a.phase == "batched" else 1
            prompts = [bench_ids(a.prompt, a.vocab, 11 + r) for r in range(rows)]
            model.generate(prompts, 4)  # warm-up
            times, toks = [], []
            for _ in range(a.runs):
                t0 = time.perf_counter()
                toks = model.generate(prompts, a.new)
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            res.update(tokens_per_s=rows * a.new / med, seconds=times, tokens=toks[0])
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("PEER " + json.dumps(res))


if __name__ == "__main__":
    main()
