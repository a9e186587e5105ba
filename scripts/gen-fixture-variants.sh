#!/usr/bin/env bash
# Regenerates the LoRA fixture variants test/fixtures/golden-<name>/ that test/lora/variants.test.ts checks:
# each is made by scripts/gen-golden.py (HF transformers + PEFT, CPU fp32) into a temporary folder and then
# trimmed into the repo by scripts/trim-golden.py. See docs/fixtures.md.
#
# Usage: scripts/gen-fixture-variants.sh [BASE_MODEL_DIR] [STRIDE]
#   BASE_MODEL_DIR  default models/tiny-gpt2 (the bundled copy of ../shared/models/tiny-gpt2)
#   STRIDE          logits columns kept (every STRIDE-th), default 40
#   PYTHON          env: the interpreter with torch + transformers + peft (default /opt/ref-venv/bin/python
#                   when it exists, else python3)
#   ONLY            env: space-separated variant names to regenerate (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-models/tiny-gpt2}
STRIDE=${2:-40}
if [ -z "${PYTHON:-}" ]; then
  if [ -x /opt/ref-venv/bin/python ]; then PYTHON=/opt/ref-venv/bin/python; else PYTHON=python3; fi
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

gen() { # NAME ARGS...: generate one variant and trim it into test/fixtures/golden-NAME
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  echo "== golden-$name"
  "$PYTHON" scripts/gen-golden.py "$BASE" "$TMP" "$name" "$@"
  rm -rf "test/fixtures/golden-$name"
  "$PYTHON" scripts/trim-golden.py "$TMP/$name" "test/fixtures/golden-$name" "$STRIDE"
  rm -f "test/fixtures/golden-$name/adapter/README.md" # PEFT's model-card stub, not used
}

# (a) c_attn only, r=8, alpha=16
gen attn-r8 --r 8 --alpha 16 --targets c_attn --seed 1 \
  --prompt 'Name three primary colors.' \
  --prompt 'Write a short poem about the sea and the wind at night.' \
  --gen-prompt 'List two fruits:' --gen-prompt 'Water boils at'

# (b) c_proj (suffix match: attn.c_proj and mlp.c_proj), r=4, alpha=8, rsLoRA (scaling alpha/sqrt(r))
gen proj-rslora --r 4 --alpha 8 --rslora --targets c_proj --seed 2 \
  --prompt 'What is the capital of Japan?' \
  --prompt 'Summarize the benefits of regular exercise in one sentence.' \
  --gen-prompt 'Give three tips for staying healthy.' --gen-prompt 'Once upon a time'

# (c) c_fc and c_attn on blocks 0 and 2 only, r=16, alpha=32
gen layers02 --r 16 --alpha 32 --targets c_fc,c_attn --layers 0,2 --seed 3 \
  --prompt 'Translate "good morning" into French.' \
  --prompt 'Describe the water cycle for a ten year old child.' \
  --gen-prompt 'Below is an instruction that describes a task.' --gen-prompt 'The best way to learn is'

# (d) a regex target_modules string (PEFT re.fullmatch on the full module name)
gen regex --r 6 --alpha 12 --target-regex 'transformer\.h\.[135]\.(attn\.c_proj|mlp\.c_fc)' --seed 4 \
  --prompt 'Classify the sentiment: I loved this movie.' \
  --prompt 'Generate a list of five words that rhyme with cat.' \
  --gen-prompt 'Write a haiku about' --gen-prompt 'The capital of France is'

# (e) all four module kinds with rank_pattern / alpha_pattern overrides; lora_dropout 0.1 in the file (the
#     tensors are made in eval mode, so no dropout in any of them)
gen patterns --r 8 --alpha 16 --dropout 0.1 --targets c_attn,attn.c_proj,c_fc,mlp.c_proj --seed 5 \
  --rank-pattern '{"c_fc": 4, "h.1.attn.c_attn": 2}' --alpha-pattern '{"mlp.c_proj": 64}' \
  --prompt 'Explain what a noun is.' \
  --prompt 'Give an example of a renewable energy source and say why.' \
  --gen-prompt 'Three tips for a good night of sleep:' --gen-prompt 'A cat is'

# (f) a full module name in target_modules (PEFT adapts it whatever layers_to_transform says), suffixes limited
#     to blocks 0 and 4, and exclude_modules
gen names-exclude --r 4 --alpha 16 --targets transformer.h.1.mlp.c_fc,c_attn,mlp.c_proj --layers 0,4 \
  --exclude h.4.mlp.c_proj --seed 6 \
  --prompt 'Name a planet.' \
  --prompt 'Suggest a title for a story about a lost dog.' \
  --gen-prompt 'My favourite food is' --gen-prompt 'How to make tea:'

du -sh test/fixtures/golden-* | sed 's/^/size /'
du -shc test/fixtures/golden-* | tail -1
