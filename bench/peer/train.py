#!/usr/bin/env python3
"""PyTorch + PEFT peer of bench/train.ts: one LoRA training step of GPT-2 on the CPU.

transformers' GPT2LMHeadModel(GPT2Config(...)) with its own random init (fp32, train mode: GPT-2's 0.1
dropouts on), PEFT get_peft_model with LoraConfig(r, lora_alpha, target_modules=['c_attn', 'c_proj'],
lora_dropout) (PEFT's suffix match: attn.c_attn, attn.c_proj and mlp.c_proj), torch.optim.AdamW over the
trainable parameters. One step = zero_grad, forward with labels = input_ids (HF shifts them: every token
but the last of each row is scored), loss.backward(), optimizer.step(). One warm-up step, then `--runs`
timed steps (time.perf_counter); tokens/s = batch * seq / median step time. Peak RSS from
resource.getrusage (this process only: the bench runs it alone).

Prints one line `PEER {json}`; a failed import prints `PEER {"error": ...}` so the bench can say why the
peer was not measured.

usage: train.py [--layers 12] [--embd 768] [--heads 12] [--vocab 50257] [--positions 1024]
                [--batch 4] [--seq 128] [--runs 5] [--threads 2] [--r 16] [--alpha 32] [--lora-dropout 0.05]
"""
import argparse
import json
import resource
import statistics
import sys
import time

try:
    import peft
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import GPT2Config, GPT2LMHeadModel
except Exception as e:  # noqa: BLE001 - any import failure means "no peer"
    print("PEER " + json.dumps({"error": f"{type(e).__name__}: {e}"}))
    sys.exit(0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--positions", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--r", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = GPT2Config(
        n_layer=a.layers, n_embd=a.embd, n_head=a.heads, n_positions=a.positions, vocab_size=a.vocab,
    )  # embd_pdrop = attn_pdrop = resid_pdrop = 0.1 (the defaults)
    model = GPT2LMHeadModel(cfg)
    lcfg = LoraConfig(
        r=a.r, lora_alpha=a.alpha, target_modules=["c_attn", "c_proj"], lora_dropout=a.lora_dropout,
        fan_in_fan_out=True,  # GPT-2's Conv1D; PEFT would set it (with a warning) anyway
    )
    model = get_peft_model(model, lcfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)
    lora_modules = sorted({n.rsplit(".lora_", 1)[0].split(".h.", 1)[-1].split(".", 1)[-1]
                           for n, _ in model.named_parameters() if ".lora_A." in n})

    gen = torch.Generator().manual_seed(7)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=gen)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        return float(out.loss.detach())

    step()  # warm-up
    seconds, losses = [], []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        losses.append(step())
        seconds.append(time.perf_counter() - t0)

    print("PEER " + json.dumps({
        "tokens_per_s": a.batch * a.seq / statistics.median(seconds),
        "seconds": seconds,
        "losses": losses,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "trainable": sum(p.numel() for p in params),
        "lora_modules": lora_modules,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "threads": torch.get_num_threads(),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
    }))


if __name__ == "__main__":
    main()
