#!/usr/bin/env bash
# Installs the PyTorch peer of `npm run bench:infer` into a virtual environment outside the repository
# (so that neither eslint nor tsc nor a device copy of the tree ever sees it):
#   ${LORAROUTE_PEER_VENV:-$HOME/.cache/loraroute/peer}
# It takes PyTorch's CPU-only wheel ("+cpu": about 190 MB, no CUDA libraries); the default Linux wheel
# would pull several GB of NVIDIA libraries that a CPU bench never uses. Override the requirement with
# LORAROUTE_PEER_TORCH (e.g. "torch==2.14.1" where no +cpu build of that version is served).
set -euo pipefail
venv="${LORAROUTE_PEER_VENV:-$HOME/.cache/loraroute/peer}"
torch_req="${LORAROUTE_PEER_TORCH:-torch==2.13.0+cpu}"
python3 -m venv "$venv"
# --retries 0: fail fast on an index that is not reachable instead of retrying each one for minutes
"$venv/bin/python" -m pip install --retries 0 --timeout 10 --quiet "$torch_req" numpy
# bench:train's peer: Hugging Face transformers + PEFT over the same CPU torch
"$venv/bin/python" -m pip install --retries 0 --timeout 10 --quiet transformers peft "$torch_req"
"$venv/bin/python" -c 'import torch; print("peer ready: torch", torch.__version__, "at", torch.__file__)'
