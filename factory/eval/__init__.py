"""Evaluation harness: `factory evaluate` (cli.py) over benchmarks.py / livecodebench.py loaders; codegen.py
(pass@k), testgen.py (output prediction, generated tests), mutants.py, candidates.py (false positives, rerank),
ranking.py (verifier ranking metrics), tables.py (the paper's Tables 1-3), iterations.py (every checkpoint of
`factory iterate`). See docs/evaluation.md."""
