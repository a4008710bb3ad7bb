"""HE-R, HE-R+, MBPP-R, MBPP-R+ (Ficek et al., "Scoring Verifiers"): candidate sets with known true scores.

Built the paper's way (its filter_solutions.py), from what this machine has:
  candidates  the reference solution (HumanEval's canonical one; MultiPL-E's MBPP ships none, so the first model
              sample that passes every test stands in, and a problem without one is dropped), the model's sampled
              solutions (`eval.rank.samples` at `eval.rank.temperature`; the paper asked GPT-4o for "somewhat
              incorrect" solutions) and AST mutants of the reference (factory/eval/mutants.py).
  true score  the share of the benchmark's tests a candidate passes. HumanEval's and MBPP's `check(candidate)`
              is split into one program per assert statement (`assert True` placeholders left out; an assert
              inside a loop is one test); `+` adds the tests of `eval.rank.plus_tests` (EvalPlus's data cannot
              be downloaded here, so without that file a `+` benchmark refuses to run instead of quietly being
              the base one). Any sandbox fault in a candidate's runs drops the candidate (counted): an infra
              failure is not a failed test.
  selection   the reference must score 1.0 (else the problem is dropped); one candidate per distinct score
              (first in order: samples, then mutants); other 1.0 candidates go, so the best is unique; then
              `eval.rank.size - 1` others spread evenly over [lowest, 1.0], the lowest being the smallest score
              in (0, 0.1) if there is one, else the minimum. Problems left with fewer than `eval.rank.min_size`
              candidates are dropped (counted).
Sets are cached in RUN_DIR/eval/<benchmark>/candidates.parquet with the settings that built them; a rerun with
the same settings reuses them and never calls the model for candidates again.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

from factory.eval.benchmarks import Problem

log = logging.getLogger(__name__)
BENCHMARKS = {"he-r": ("humaneval", False), "he-r+": ("humaneval", True),
              "mbpp-r": ("mbpp", False), "mbpp-r+": ("mbpp", True)}
COLUMNS = ("task_id", "kind", "source", "passed", "total", "score", "rank")


def split_asserts(program: str) -> list[str]:
    """One runnable program per assert statement of `program`: the others become `pass`, everything else (setup,
    loops, the final `check(...)` call) stays. Asserts of a constant (`assert True, "..."`) test nothing."""
    tree = ast.parse(program)
    sites = [n for n in ast.walk(tree) if isinstance(n, ast.Assert) and not isinstance(n.test, ast.Constant)]
    out = []
    for keep in sites:
        key = (keep.lineno, keep.col_offset)

        class Blank(ast.NodeTransformer):
            def visit_Assert(self, node):
                return node if (node.lineno, node.col_offset) == key else ast.Pass()

        out.append(ast.unparse(ast.fix_missing_locations(Blank().visit(copy.deepcopy(tree)))) + "\n")
    return out


def read_plus_tests(path: str, problems: dict[str, Problem]) -> dict[str, list[tuple[str, str | None]]]:
    """Extra tests per task: JSON lines of {task_id, inputs, expected} (literal argument list and value, the
    format `factory evaluate` writes its generated tests in) or EvalPlus rows {task_id, plus_input: [[args]...]},
    whose expected values come from running the reference solution (None here). Errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"eval.rank.plus_tests={path!r}: no such file")
    out: dict[str, list] = {}
    for lineno, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        try:
            row = json.loads(line)
            tid = row["task_id"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{where}: expected a JSON object with task_id ({e})") from e
        if tid not in problems:
            continue   # a full EvalPlus file against a limited run: other tasks are simply not asked for
        if "plus_input" in row:
            if not problems[tid].canonical:
                raise ValueError(f"{where}: plus_input needs a gold solution for its outputs; {tid} has none "
                                 f"(give inputs and expected instead)")
            out.setdefault(tid, []).extend((repr(list(args)), None) for args in row["plus_input"])
        elif "inputs" in row and "expected" in row:
            out.setdefault(tid, []).append((str(row["inputs"]), str(row["expected"])))
        else:
            raise ValueError(f"{where}: expected fields inputs and expected, or plus_input")
    return out


def _settings_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True, default=str)


def file_digest(path: str | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None


def load_cached(path: Path, settings: dict) -> tuple[list[dict], Counter] | None:
    """The cached rows and drop counts when `path` was built with exactly `settings`; None otherwise."""
    import pyarrow.parquet as pq

    if not path.is_file():
        return None
    meta = pq.read_schema(path).metadata or {}
    if meta.get(b"settings", b"").decode() != _settings_key(settings):
        log.info("%s was built with other settings: rebuilding", path)
        return None
    return pq.read_table(path).to_pylist(), Counter(json.loads(meta[b"drops"].decode()))


def save(path: Path, rows: list[dict], drops: Counter, settings: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("task_id", pa.string()), ("kind", pa.string()), ("source", pa.string()),
                        ("passed", pa.int64()), ("total", pa.int64()), ("score", pa.float64()),
                        ("rank", pa.int64())],
                       metadata={"settings": _settings_key(settings), "drops": json.dumps(dict(drops))})
    table = pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in rows], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")   # rename last: a half-written cache is never read as finished
    pq.write_table(table, tmp)
    tmp.replace(path)


# A test is ("assert", program) run in the sandbox's assertion mode, or ("io", inputs, expected) in its I/O mode.
def execute(sandbox, problems: dict[str, Problem], items: list[tuple[str, str, list[tuple]]]) -> list[list[str]]:
    """Per (task_id, source, tests) item, one status per test in order. I/O tests of an item share one case."""
    from factory.sandbox import Case, IOTest

    cases, slots = [], []   # slots: per case, (item index, test positions it covers)
    for n, (tid, source, tests) in enumerate(items):
        entry = problems[tid].entry_point
        io = [i for i, t in enumerate(tests) if t[0] == "io"]
        for i, t in enumerate(tests):
            if t[0] == "assert":
                cases.append(Case(id=f"{tid}#{n}.{i}", solution=source, entry_point=entry, assert_tests=t[1]))
                slots.append((n, [i]))
        if io:
            cases.append(Case(id=f"{tid}#{n}.io", solution=source, entry_point=entry,
                              tests=[IOTest(tests[i][1], tests[i][2]) for i in io]))
            slots.append((n, io))
    out = [[""] * len(tests) for _, _, tests in items]
    for start in range(0, len(cases), 256):   # chunks bound memory on a full benchmark
        for (n, positions), verdicts in zip(slots[start:start + 256], sandbox.run(cases[start:start + 256])):
            for i, v in zip(positions, verdicts):
                out[n][i] = v.status
    return out


def resolve_expected(sandbox, problems: dict[str, Problem], suites: dict[str, list[tuple]], drops: Counter):
    """EvalPlus inputs have no expected values: the gold solution's own output is the expected one. An input the
    gold solution fails on (raises, times out) is no test; counted and left out."""
    pending = [(tid, [t for t in tests if t[0] == "io" and t[2] is None]) for tid, tests in suites.items()]
    pending = [(tid, ts) for tid, ts in pending if ts]
    if not pending:
        return
    from factory.sandbox import Case, IOTest

    cases = [Case(id=f"{tid}#gold", solution=problems[tid].canonical, entry_point=problems[tid].entry_point,
                  tests=[IOTest(t[1], "None") for t in ts]) for tid, ts in pending]
    for (tid, ts), verdicts in zip(pending, sandbox.run(cases)):
        outputs = {t[1]: v.output for t, v in zip(ts, verdicts) if v.status in ("pass", "wrong_answer")}
        drops["plus_input_gold_failed"] += sum(1 for t in ts if t[1] not in outputs)
        suites[tid] = [t for t in suites[tid] if t[0] != "io" or t[2] is not None] + [
            ("io", t[1], outputs[t[1]]) for t in ts if t[1] in outputs]


def _score(statuses: list[str]) -> tuple[int, int] | None:
    """(passed, total), or None when the sandbox itself failed: that says nothing about the candidate."""
    from factory.sandbox.verdicts import is_infra

    if any(is_infra(s) for s in statuses):   # infra_error (sandbox_error in older runs)
        return None
    return sum(s == "pass" for s in statuses), len(statuses)


def build(sandbox, problems: list[Problem], samples: dict[str, list[str]], plus: dict | None, num_mutants: int,
          size: int, min_size: int) -> tuple[list[dict], Counter]:
    """Candidate rows (COLUMNS) of every kept problem, and the count of every drop by reason."""
    from factory.eval.mutants import mutants

    by_id, drops, suites = {p.task_id: p for p in problems}, Counter(), {}
    for p in problems:
        tests = [("assert", prog) for prog in split_asserts(p.assert_tests)]
        if plus is not None:
            if not plus.get(p.task_id):
                drops["no_plus_tests"] += 1
                continue
            tests += [("io", i, e) for i, e in plus[p.task_id]]
        if tests:
            suites[p.task_id] = tests
        else:
            drops["no_tests"] += 1
    resolve_expected(sandbox, by_id, suites, drops)
    first = {tid: ([("gold", by_id[tid].canonical)] if by_id[tid].canonical else [])
             + [("sample", s) for s in dict.fromkeys(samples.get(tid, []))] for tid in suites}
    scored = _run(sandbox, by_id, suites, first, drops)
    refs = {}
    for tid, cands in scored.items():
        # With a gold solution it is the reference (it may not be replaced by a sample that happens to pass).
        want = "gold" if by_id[tid].canonical else "sample"
        ref = next((c for c in cands if c["kind"] == want and (want == "gold" or c["score"] == 1.0)), None)
        if ref is None or ref["score"] != 1.0:
            drops["gold_fails_tests" if ref else "no_reference"] += 1
            continue
        refs[tid] = ref
    muts = {tid: [("mutant", m.source) for m in mutants(ref["source"], num_mutants)] for tid, ref in refs.items()}
    scored_muts = _run(sandbox, by_id, suites, muts, drops)
    rows = []
    for tid, ref in refs.items():
        others = [c for c in scored[tid] + scored_muts.get(tid, []) if c is not ref]
        chosen = select(ref, others, size)
        if len(chosen) < min_size:
            drops["too_few_distinct_scores"] += 1
            continue
        rows += [{**c, "task_id": tid, "rank": r} for r, c in enumerate(chosen, 1)]
    return rows, drops


def _run(sandbox, by_id, suites, cands: dict[str, list[tuple[str, str]]], drops: Counter) -> dict[str, list]:
    items = [(tid, src, suites[tid]) for tid, cs in cands.items() for _, src in cs]
    statuses = iter(execute(sandbox, by_id, items))
    out = {}
    for tid, cs in cands.items():
        out[tid] = []
        for kind, src in cs:
            score = _score(next(statuses))
            if score is None:
                drops["candidate_sandbox_error"] += 1
                continue
            out[tid].append({"kind": kind, "source": src, "passed": score[0], "total": score[1],
                             "score": score[0] / score[1]})
    return out


def select(ref: dict, others: list[dict], size: int) -> list[dict]:
    """The reference, then up to size - 1 others of distinct scores below 1.0 spread over the range (the
    paper's pick_spaced_solutions), best first."""
    distinct = {}
    for c in others:
        if c["score"] < 1.0:
            distinct.setdefault(c["score"], c)   # the first of a score: samples come before mutants
    pool = sorted(distinct.values(), key=lambda c: -c["score"])
    k = size - 1
    if k >= len(pool):
        return [ref] + pool
    low = [i for i, c in enumerate(pool) if 0.0 < c["score"] < 0.1]
    bottom = low[-1] if low else len(pool) - 1   # a near-miss of a few tests over one that passes none
    chosen, lowest = {bottom}, pool[bottom]["score"]
    for target in (1.0 - t / k * (1.0 - lowest) for t in range(1, k)):
        free = [i for i in range(len(pool)) if i not in chosen]
        chosen.add(min(free, key=lambda i: abs(pool[i]["score"] - target)))
    return [ref] + [pool[i] for i in sorted(chosen)]


def check_settings(rank):
    """`eval.rank` validated; errors name the field."""
    from factory.config import ConfigError

    for field, minimum in (("samples", 0), ("mutants", 0), ("size", 2), ("min_size", 2)):
        value = rank[field]
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"eval.rank.{field}={value!r}: expected an integer >= {minimum}")
    if rank.min_size > rank.size:
        raise ConfigError(f"eval.rank.min_size={rank.min_size} is above eval.rank.size={rank.size}")
    if not isinstance(rank.temperature, (int, float)) or rank.temperature < 0:
        raise ConfigError(f"eval.rank.temperature={rank.temperature!r}: expected a number >= 0")
    return rank


def evaluate(cfg, ev, sandbox, out_dir: Path) -> tuple[dict, int]:
    """`factory evaluate benchmark=he-r|he-r+|mbpp-r|mbpp-r+`: build (or reuse) the candidate sets, score them
    with the verifier (the model's generated tests, or the test file `samples=`); returns (metrics, kept task ids)."""
    from factory.eval import candidates, codegen, tables, testgen
    from factory.eval.benchmarks import load_benchmark
    from factory.llm.base import Sampling

    source, plus = BENCHMARKS[cfg.benchmark]
    rank = check_settings(ev.rank)
    if plus and not rank.plus_tests:
        raise ValueError(f"benchmark={cfg.benchmark} needs eval.rank.plus_tests=FILE: EvalPlus's tests cannot be "
                         f"downloaded here (see docs/evaluation.md, HE-R / MBPP-R)")
    problems = load_benchmark(source, ev.data_path, ev.hf_dataset, ev.limit, ev.mbpp_prompt)
    by_id = {p.task_id: p for p in problems}
    settings = {"benchmark": cfg.benchmark, "data_path": ev.data_path, "limit": ev.limit,
                "model": cfg.model.get("name"), "samples": rank.samples, "temperature": rank.temperature,
                "top_p": ev.top_p, "max_tokens": ev.max_tokens, "seed": cfg.seed, "mutants": rank.mutants,
                "size": rank.size, "min_size": rank.min_size, "mbpp_prompt": ev.mbpp_prompt,
                "plus_tests": file_digest(rank.plus_tests)}
    cache = out_dir / cfg.benchmark / "candidates.parquet"
    llm = None
    cached = load_cached(cache, settings)
    if cached:
        rows, drops = cached
        log.info("%s: reusing %d candidates from %s", cfg.benchmark, len(rows), cache)
    else:
        samples = {}
        if rank.samples > 0:
            from factory.llm import make_llm

            llm = make_llm(cfg.llm, cfg.model)
            sampling = Sampling(rank.samples, rank.temperature, ev.top_p, ev.max_tokens, cfg.seed)
            samples = codegen.generate(llm, problems, sampling, ev.batch_size)
        extra = read_plus_tests(rank.plus_tests, by_id) if plus else None
        rows, drops = build(sandbox, problems, samples, extra, rank.mutants, rank.size, rank.min_size)
        save(cache, rows, drops, settings)
    kept = {r["task_id"] for r in rows}
    if cfg.get("samples"):
        tests = candidates.read_verifier_tests(cfg.samples, by_id)
    else:
        if llm is None:
            from factory.llm import make_llm

            llm = make_llm(cfg.llm, cfg.model)
        setting = tables.settings(ev.testgen)[0]   # a list of Table 2 settings: the first one is the verifier
        generated = testgen.generate_tests(llm, [p for p in problems if p.task_id in kept], ev.num_inputs,
                                           setting, ev.output_temperature, ev.output_max_tokens, cfg.seed)
        tests = {tid: [("io", i, e) for i, e in ts] for tid, ts in generated.items()}
    scores, faults = candidates.verifier_scores(sandbox, by_id, rows, tests)
    metrics = candidates.scoring_report(rows, scores, tests, drops)
    metrics["rank_verifier_sandbox_errors"] = {"value": faults, "count": sum(len(tests.get(t, [])) for t in kept)}
    results = [{"task_id": r["task_id"], "kind": r["kind"], "rank": r["rank"], "true_score": r["score"],
                "verifier_score": s} for r, s in zip(rows, scores)]
    (out_dir / f"{cfg.benchmark}_ranking.jsonl").write_text("".join(json.dumps(x) + "\n" for x in results))
    return metrics, sorted(kept)
