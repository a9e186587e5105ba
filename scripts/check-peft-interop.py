#!/usr/bin/env python3
"""Checks that loraroute's adapter folders and PEFT's are interchangeable, by logits (CPU, fp32):

  ours -> PEFT: adapters saved by loraroute's savePeftAdapter (random non-zero B; made by scripts/peft-interop.mjs)
                load with PEFT's PeftModel.from_pretrained, unchanged, and give our logits;
  PEFT -> ours: adapters saved by PEFT's save_pretrained (made here, random non-zero B) load in loraroute and give
                PEFT's logits;
  given:        every ADAPTER_DIR on the command line (e.g. the --out of `loraroute finetune`) gives the same
                logits in both.

Every row of every prompt's logits is compared in full; the check fails (exit 1) when any max |ours - PEFT| is
>= --tol (default 1e-4). The loraroute side runs through node (it builds dist/ first unless --no-build).

Usage: python scripts/check-peft-interop.py [--model DIR] [--tol 1e-4] [--keep DIR] [--no-build] [ADAPTER_DIR...]
Needs torch, transformers, peft and safetensors; without them it prints SKIP and exits 0 (the test suite itself
never needs Python). A CPU-only environment: see docs/fixtures.md."""
import argparse, json, os, shutil, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('adapters', nargs='*', help='extra adapter folders to check both ways')
    ap.add_argument('--model', default=os.path.join(ROOT, 'models', 'tiny-gpt2'), help='HF GPT-2 folder (default: models/tiny-gpt2)')
    ap.add_argument('--tol', type=float, default=1e-4)
    ap.add_argument('--keep', help='work in this folder and keep it (default: a temporary folder, removed)')
    ap.add_argument('--no-build', action='store_true', help='use dist/ as it is')
    ap.add_argument('--backend', default='auto', help='loraroute backend: auto, native or reference')
    args = ap.parse_args()
    try:
        import torch
        from transformers import GPT2LMHeadModel, GPT2TokenizerFast
        from peft import LoraConfig, PeftModel, get_peft_model
        from safetensors.torch import load_file
        import peft, transformers
    except Exception as e:  # ImportError, or a torch build that cannot load
        print(f'SKIP: check-peft-interop needs torch, transformers, peft and safetensors ({type(e).__name__}: {e}); '
              'install them (CPU is enough) or run with an interpreter that has them, e.g. PYTHON=/opt/ref-venv/bin/python')
        return 0
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    print(f'torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}; model {args.model}')

    work = os.path.abspath(args.keep or tempfile.mkdtemp(prefix='peft-interop-'))
    os.makedirs(work, exist_ok=True)
    try:
        base = lambda: GPT2LMHeadModel.from_pretrained(args.model).float().eval()

        # PEFT -> ours: adapters saved by PEFT, with random non-zero B
        peft_cases = [
            ('peft-attn-fc', dict(r=8, lora_alpha=16, target_modules=['c_attn', 'c_fc']), 21),
            ('peft-rslora-layers', dict(r=4, lora_alpha=8, use_rslora=True, target_modules=['c_proj'], layers_to_transform=[2, 3],
                                         rank_pattern={'attn.c_proj': 2}), 22),
        ]
        peft_dirs = []
        for name, cfg, seed in peft_cases:
            torch.manual_seed(seed)
            pm = get_peft_model(base(), LoraConfig(**cfg, lora_dropout=0.0, fan_in_fan_out=True, task_type='CAUSAL_LM'))
            for n, p in pm.named_parameters():
                if 'lora_B' in n: torch.nn.init.normal_(p, std=0.05)
            d = os.path.join(work, name, 'adapter'); pm.save_pretrained(d); peft_dirs.append(d)

        # our side: saves its own adapters, scores all
        cmd = ['node', os.path.join(ROOT, 'scripts', 'peft-interop.mjs'), os.path.join(work, 'ours'), '--model', args.model,
               '--backend', args.backend]
        if args.no_build: cmd.append('--no-build')
        for d in peft_dirs + [os.path.abspath(a) for a in args.adapters]: cmd += ['--score', d]
        r = subprocess.run(cmd, cwd=ROOT)
        if r.returncode != 0:
            print(f'FAIL: {" ".join(cmd)} exited {r.returncode}'); return 1
        manifest = json.load(open(os.path.join(work, 'ours', 'manifest.json')))

        tok = GPT2TokenizerFast(tokenizer_file=os.path.join(args.model, 'tokenizer.json'))
        ids = manifest['input_ids']
        bad = []
        for p, want in zip(manifest['prompts'], ids):
            got = tok(p)['input_ids']
            if got != want: bad.append(f'tokenization of {p!r}: ours {want} vs HF {got}')
        ref = base()
        with torch.no_grad():
            base_logits = [ref(input_ids=torch.tensor([s])).logits[0] for s in ids]
        print(f'loraroute backend: {manifest["backend"]}; {len(ids)} prompts, {sum(map(len, ids))} tokens, every logit compared')
        print(f'{"case":34} {"direction":14} {"modules":>7} {"max|ours-PEFT|":>15} {"max|adapter-base|":>18}')
        for c in manifest['cases']:
            direction = 'ours -> PEFT' if c['made_by'].startswith('loraroute') else ('PEFT -> ours' if c['adapter'] in peft_dirs else 'given')
            try:
                pm = PeftModel.from_pretrained(base(), c['adapter']).eval()  # the folder as written, unchanged
            except Exception as e:
                print(f'{c["name"][:34]:34} {direction:14} {len(c["sites"]):7d} {"PEFT refused it":>15}')
                bad.append(f'{c["name"]} ({direction}): PEFT cannot load {c["adapter"]}: {type(e).__name__}: {e}'); continue
            peft_sites = sorted(n[len('base_model.model.'):-len('.lora_A.default.weight')] for n, _ in pm.named_parameters() if n.endswith('lora_A.default.weight'))
            if peft_sites != sorted(c['sites']):
                bad.append(f'{c["name"]}: PEFT adapts {peft_sites}, loraroute {sorted(c["sites"])}')
            ours = load_file(c['logits'])
            diff = effect = 0.0
            with torch.no_grad():
                for k, s in enumerate(ids):
                    lg = pm(input_ids=torch.tensor([s])).logits[0].float()
                    diff = max(diff, (ours[f'logits.{k}'] - lg).abs().max().item())
                    effect = max(effect, (lg - base_logits[k]).abs().max().item())
            ok = diff < args.tol
            print(f'{c["name"][:34]:34} {direction:14} {len(c["sites"]):7d} {diff:15.3e} {effect:18.3e}  {"ok" if ok else "MISMATCH"}')
            if not ok: bad.append(f'{c["name"]} ({direction}): max |ours - PEFT| = {diff:.3e} >= {args.tol:g}')
            if effect < 1e-3:  # a fresh adapter (B = 0) or a barely trained one: the comparison proves little
                note = f'{c["name"]}: the adapter barely changes the logits ({effect:.1e})'
                if direction == 'given': print(f'  note: {note}')
                else: bad.append(note)
        if bad:
            print('FAIL:\n  ' + '\n  '.join(bad)); return 1
        print(f'OK: {len(manifest["cases"])} adapters agree with PEFT within {args.tol:g}')
        return 0
    finally:
        if not args.keep: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__':
    sys.exit(main())
