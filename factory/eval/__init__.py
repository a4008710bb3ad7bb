"""Evaluation harness: `factory evaluate` (cli.py) over benchmarks.py / livecodebench.py loaders; codegen.py
(pass@k), testgen.py (output prediction, generated tests), mutants.py, candidates.py (false positives, rerank),
ranking.py (verifier ranking metrics). See docs/evaluation.md."""
