#!/usr/bin/env bash
# Submit `factory <command> [key=value ...]` to a running Ray cluster as a Ray job (`ray job submit`).
# The project folder travels as the job's working_dir (deploy/runtime_env.yaml lists what is left out and the
# environment); conf/ travels with it, so every key=value override of a local run works the same way here.
# `cluster=remote` is added: the job's driver joins the cluster it runs on (address: auto).
#
#   RAY_ADDRESS=http://HEAD:8265 bash deploy/submit.sh generate num_problems=100000 run_dir=/shared/runs/r1 \
#       model=qwen2.5-coder-7b-instruct llm=vllm llm.concurrency=8
#   FACTORY_JOB_ID=r1 FACTORY_NO_WAIT=1 bash deploy/submit.sh generate ...   # fixed id, return at once
#   ray job logs --address http://HEAD:8265 -f r1 ; ray job status ... r1 ; ray job stop ... r1
#
# run_dir must be storage every node sees (NFS, a mounted bucket): stages write shards from the workers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
ADDRESS=${RAY_ADDRESS:-http://127.0.0.1:8265}
ARGS=(--address "$ADDRESS" --runtime-env "${FACTORY_RUNTIME_ENV:-deploy/runtime_env.yaml}" --working-dir .)
[ -n "${FACTORY_JOB_ID:-}" ] && ARGS+=(--submission-id "$FACTORY_JOB_ID")
[ -n "${FACTORY_NO_WAIT:-}" ] && ARGS+=(--no-wait)
exec ${RAY:-ray} job submit "${ARGS[@]}" -- python -m factory.cli "$@" cluster=remote
