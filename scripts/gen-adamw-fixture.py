#!/usr/bin/env python3
"""A reference dump of torch.optim.AdamW for test/train/optimizer.test.ts (which never runs Python).

Four parameter tensors in two parameter groups, the way loraroute's training loop drives its optimiser:
  group "decay":    three tensors, weight decay 0.1, the scheduled learning rate;
  group "no_decay": one tensor, weight decay 0, half the scheduled rate (loraroute's ParamGroup.lrScale 0.5).
Each of 6 steps: fixed random gradients (some steps scaled so the global norm is above the clipping limit, some
below), torch.nn.utils.clip_grad_norm_ over all four tensors (max_norm 1.0), optimizer.step(), then a
warm-up + cosine LambdaLR schedule step. betas (0.85, 0.98), eps 1e-7 (not the defaults, so the test sees
them passed through). Everything is float32 on the CPU, torch's single-tensor (foreach=False) path.

Written to test/fixtures/adamw/adamw.json: the settings, the initial parameters, per step the gradients as
given (before clipping), the learning rate of each group, the total norm clip_grad_norm_ returned, and the
parameters after the step; after the last step also exp_avg and exp_avg_sq. Float32 values are written as
the exact decimal of their float64 widening, so the test reads back the very same bits.

Usage: python scripts/gen-adamw-fixture.py [OUT_DIR]   (needs torch; CPU is enough; e.g. the venv of
bench/peer/setup.sh)
"""
import json, math, os, sys
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'adamw')
STEPS = 6
BASE_LR = 0.05
WARMUP = 2
MAX_NORM = 1.0
BETAS = (0.85, 0.98)
EPS = 1e-7
SHAPES = {'decay': {'w1': [7, 5], 'w2': [13], 'w3': [4, 3, 2]}, 'no_decay': {'b1': [6]}}
WEIGHT_DECAY = {'decay': 0.1, 'no_decay': 0.0}
LR_SCALE = {'decay': 1.0, 'no_decay': 0.5}
# gradient scale per step: steps 0, 2, 3 put the global norm well above MAX_NORM, steps 1, 4, 5 below it
GRAD_SCALE = [2.0, 0.05, 1.0, 3.0, 0.08, 0.02]

torch.manual_seed(1234)
gen = torch.Generator().manual_seed(99)
params = {g: {n: torch.nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float32)) for n, s in shapes.items()}
          for g, shapes in SHAPES.items()}
initial = {n: p.detach().clone() for g in params.values() for n, p in g.items()}
groups = [{'params': list(params[g].values()), 'lr': BASE_LR * LR_SCALE[g], 'weight_decay': WEIGHT_DECAY[g]} for g in SHAPES]
opt = torch.optim.AdamW(groups, lr=BASE_LR, betas=BETAS, eps=EPS, foreach=False)


def schedule(step):  # warm-up then cosine decay to 10 %, as a multiplier of each group's initial rate
    if step < WARMUP:
        return (step + 1) / WARMUP
    t = (step - WARMUP) / max(1, STEPS - WARMUP)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t))


sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
every = [p for g in params.values() for p in g.values()]


def values(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


steps = []
for k in range(STEPS):
    lrs = {g: opt.param_groups[i]['lr'] for i, g in enumerate(SHAPES)}
    grads = {}
    for g in params.values():
        for n, p in g.items():
            p.grad = (torch.randn(p.shape, generator=gen, dtype=torch.float32) * GRAD_SCALE[k]).contiguous()
            grads[n] = values(p.grad)
    norm = float(torch.nn.utils.clip_grad_norm_(every, MAX_NORM))
    opt.step()
    sched.step()
    steps.append({'lr': lrs, 'grads': grads, 'total_norm': norm,
                  'params_after': {n: values(p) for g in params.values() for n, p in g.items()}})

state = {n: {'exp_avg': values(opt.state[p]['exp_avg']), 'exp_avg_sq': values(opt.state[p]['exp_avg_sq'])}
         for g in params.values() for n, p in g.items()}
fixture = {
    'made_by': 'scripts/gen-adamw-fixture.py', 'torch': torch.__version__,
    'betas': list(BETAS), 'eps': EPS, 'max_norm': MAX_NORM,
    'groups': {g: {'tensors': list(SHAPES[g]), 'weight_decay': WEIGHT_DECAY[g], 'lr_scale': LR_SCALE[g]} for g in SHAPES},
    'shapes': {n: s for shapes in SHAPES.values() for n, s in shapes.items()},
    'initial': {n: values(t) for n, t in initial.items()},
    'steps': steps,
    'final_state': state,
}
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, 'adamw.json'), 'w') as f:
    json.dump(fixture, f, indent=1)
    f.write('\n')
print('wrote', os.path.join(OUT, 'adamw.json'), 'torch', torch.__version__,
      'norms', [round(s['total_norm'], 4) for s in steps])
