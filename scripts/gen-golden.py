#!/usr/bin/env python3
"""Golden reference tensors from HF transformers + PEFT (CPU, fp32) for a GPT-2 checkpoint dir, with the LoRA
settings given as arguments. The same logic as ../shared/tools/gen_golden.py (which made test/fixtures/golden);
additions: the LoRA config, seed and prompts come from the command line; meta.json lists `adapted_modules`; and
besides `merged.transformer.h.0.attn.c_attn.weight` (whole, as before) every 8th input row of the merged weight of
the last adapted layer of every adapted module kind is saved as `merged_strided.<module>.weight` (so a variant
that does not adapt h.0's c_attn still checks a merge that changes something, without megabytes of weights).

Usage (needs torch, transformers, peft, safetensors; CPU is enough):
  python scripts/gen-golden.py BASE_DIR OUT_DIR NAME --r 8 --alpha 16 --targets c_attn --seed 1
  python scripts/gen-golden.py BASE_DIR OUT_DIR NAME --target-regex 'transformer\\.h\\.[13]\\.mlp\\.c_fc' ...
Options: --r, --alpha, --dropout, --targets a,b | --target-regex RE, --rslora, --layers 0,2 (or one int),
--exclude a,b, --rank-pattern JSON, --alpha-pattern JSON, --seed, --prompt TEXT (repeat), --gen-prompt TEXT (repeat),
--gen-tokens N. The output is OUT_DIR/NAME/{meta.json, tensors.safetensors, adapter/}; trim it for the repo with
scripts/trim-golden.py (scripts/gen-fixture-variants.sh does both for every variant the tests use)."""
import argparse, json, os, torch, torch.nn.functional as F
from transformers import GPT2LMHeadModel, GPT2TokenizerFast
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file

DEFAULT_PROMPTS = ['Give three tips for staying healthy.',
                   'Explain how neural networks work in simple terms, and give an example of where they are used today.']
MERGED_ROW_STRIDE = 8
DEFAULT_GEN = ['Below is an instruction that describes a task.', 'The capital of France is']

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('base'); ap.add_argument('outdir'); ap.add_argument('name')
ap.add_argument('--r', type=int, default=16)
ap.add_argument('--alpha', type=float, default=32)
ap.add_argument('--dropout', type=float, default=0.0)
g = ap.add_mutually_exclusive_group()
g.add_argument('--targets', default='c_attn,c_proj', help='comma-separated module-name suffixes')
g.add_argument('--target-regex', help='one regex that must match the full module name (PEFT re.fullmatch)')
ap.add_argument('--rslora', action='store_true')
ap.add_argument('--layers', help='layers_to_transform: "0,2" (a list) or "3" (an int)')
ap.add_argument('--exclude', help='exclude_modules: comma-separated module-name suffixes')
ap.add_argument('--rank-pattern', default=None, help='JSON object, PEFT rank_pattern')
ap.add_argument('--alpha-pattern', default=None, help='JSON object, PEFT alpha_pattern')
ap.add_argument('--seed', type=int, default=42)
ap.add_argument('--prompt', action='append', help='a prompt for logits / loss / the padded batch (repeat)')
ap.add_argument('--gen-prompt', action='append', help='a prompt for greedy continuations (repeat)')
ap.add_argument('--gen-tokens', type=int, default=24)
args = ap.parse_args()

base, outdir = args.base, args.outdir
torch.set_num_threads(2)
tok = GPT2TokenizerFast(tokenizer_file=f'{base}/tokenizer.json')
ref = GPT2LMHeadModel.from_pretrained(base).float().eval()

def greedy(m, prompt, n):
    x = torch.tensor([prompt])
    with torch.no_grad():
        for _ in range(n):
            x = torch.cat([x, m(input_ids=x).logits[0, -1].argmax().view(1, 1)], 1)
    return x[0, len(prompt):].tolist()

def golden(name, prompts, lcfg, seed, gen_prompts, gen_tokens):
    d = f'{outdir}/{name}'; os.makedirs(d, exist_ok=True)
    t = {}; meta = {'prompts': prompts, 'lora_config': lcfg, 'lora_B_init': 'normal(std=0.02), seeded', 'seed': seed,
                    'note': 'fp32, eval mode (no dropout) for every tensor, gradients included',
                    'generator': 'scripts/gen-golden.py (= shared/tools/gen_golden.py with arguments)'}
    seqs = [tok(p)['input_ids'] for p in prompts]; meta['input_ids'] = seqs
    def run(m, tag):
        with torch.no_grad():
            for k, s in enumerate(seqs):
                lg = m(input_ids=torch.tensor([s])).logits[0].float()
                t[f'{tag}.logits.{k}'] = lg.contiguous()
                meta.setdefault(f'{tag}_loss', []).append(F.cross_entropy(lg[:-1], torch.tensor(s[1:])).item())
        meta[f'{tag}_greedy'] = [greedy(m, tok(p)['input_ids'], gen_tokens) for p in gen_prompts]
    run(ref, 'base'); meta['gen_prompts'] = gen_prompts
    torch.manual_seed(seed)
    m = GPT2LMHeadModel.from_pretrained(base).float()
    pm = get_peft_model(m, LoraConfig(**lcfg, task_type='CAUSAL_LM'))
    for n_, p in pm.named_parameters():
        if 'lora_B' in n_: torch.nn.init.normal_(p, std=0.02)
    pm.save_pretrained(f'{d}/adapter'); pm.eval()
    run(pm, 'adapter')
    # right-padded batch of all prompts: pad id = eos, attention_mask 0 and label -100 on pads
    L = max(map(len, seqs)); pad = tok.eos_token_id
    ids = torch.tensor([s + [pad] * (L - len(s)) for s in seqs]); mask = torch.tensor([[1] * len(s) + [0] * (L - len(s)) for s in seqs])
    labels = ids.masked_fill(mask == 0, -100)
    out = pm(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    t['batch.input_ids'] = ids.to(torch.int32); t['batch.attention_mask'] = mask.to(torch.int32)
    meta['batch_loss'] = out.loss.item()
    meta['batch_loss_rule'] = 'HF causal LM loss: shift by one, mean over all non -100 label positions of the whole batch'
    adapted = []  # module names carrying LoRA, in model order
    for n_, p in pm.named_parameters():
        if p.requires_grad: t['grad.' + n_] = p.grad.float().contiguous()
        if n_.endswith('.lora_A.default.weight'): adapted.append(n_[len('base_model.model.'):-len('.lora_A.default.weight')])
    meta['adapted_modules'] = adapted
    merged = pm.merge_and_unload()
    t['merged.transformer.h.0.attn.c_attn.weight'] = merged.transformer.h[0].attn.c_attn.weight.detach().float().contiguous()
    # plus every MERGED_ROW_STRIDE-th input row of the merged weight of each adapted module kind's last layer
    # (kept small: row i of W += scaling * A[:, i]^T B^T involves all of B and column i of A)
    last = {}  # module kind (attn.c_attn, ...) -> its last adapted layer's module name
    for n_ in adapted: last[n_.split('.', 3)[3]] = n_
    for n_ in last.values():
        t[f'merged_strided.{n_}.weight'] = merged.get_submodule(n_).weight.detach().float()[::MERGED_ROW_STRIDE].contiguous()
    meta['merged_row_stride'] = MERGED_ROW_STRIDE
    save_file(t, f'{d}/tensors.safetensors')
    json.dump(meta, open(f'{d}/meta.json', 'w'), indent=1)

lcfg = dict(r=args.r, lora_alpha=args.alpha if args.alpha != int(args.alpha) else int(args.alpha),
            target_modules=args.target_regex if args.target_regex else args.targets.split(','),
            lora_dropout=args.dropout, fan_in_fan_out=True)
if args.rslora: lcfg['use_rslora'] = True
if args.layers is not None:
    lcfg['layers_to_transform'] = [int(x) for x in args.layers.split(',')] if ',' in args.layers else int(args.layers)
if args.exclude: lcfg['exclude_modules'] = args.exclude.split(',')
if args.rank_pattern: lcfg['rank_pattern'] = json.loads(args.rank_pattern)
if args.alpha_pattern: lcfg['alpha_pattern'] = json.loads(args.alpha_pattern)
golden(args.name, args.prompt or DEFAULT_PROMPTS, lcfg, args.seed, args.gen_prompt or DEFAULT_GEN, args.gen_tokens)
