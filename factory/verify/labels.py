"""Expected outputs for test inputs: from the verifier's vote, from the solutions' executions, or from both.

`verify.outputs` picks the source of the label each test input is judged by:
  predicted  the majority of the K sampled outputs, with a quorum (Sol-Ver, the paper's rule; factory/verify/vote.py).
  executed   the output of the largest group of distinct solutions that return the same value on the input, with
             `min_agree` distinct programs at least and no tie (CodeT's dual execution agreement, Chen et al. 2022;
             rStar-Coder's mutual verification). The verifier still gets data: its sampled outputs that equal the
             label are chosen, the others rejected, so it learns to predict what the code does.
  agreed     an input is kept only when the predicted majority and the executed majority are the same value: both
             roles agree independently, the strictest source (fewer tests, higher precision).
Use `predicted` with a model that predicts outputs well (7B+), `executed` with a weak verifier (a 135M model
predicts ~4% of outputs right, so its votes rarely label anything), `agreed` when precision matters most.

Guards against solutions that agree on a wrong value: identical programs (same AST) count once, since a sample
repeated is not a second opinion; a value held only by programs that crash on some other input does not count
(a crash on an input another program handles shows it does not do what the problem asks); the chosen solutions
must be a consensus on every input, labelled or not (`consensus_set`, `verify.consensus=all`); and the
constant-function check of selection still applies to the labels. Boundary inputs (factory/verify/boundary.py)
are probes that may lie outside the task's domain (0 for a positive int), where a right program may raise: they
are labelled by the programs that return every other label, one that such a program crashes on gets no label
(`boundary_crash`), and a crash there bars no program from vouching.
"""

from __future__ import annotations

import ast
from collections import defaultdict

from factory.literals import literal_key, same_literal
from factory.verify import boundary
from factory.verify.vote import majority

MODES = ("predicted", "executed", "agreed")
RETURNED = ("pass", "wrong_answer", "returned")   # statuses that carry the program's output
# The program's own faults. Infrastructure faults (sandbox_error, infra_error) say nothing about the program.
CRASHES = ("runtime_error", "timeout", "memory_limit", "output_limit", "syntax_error", "missing_entry_point",
           "unserializable_output")


def check_mode(mode: str, min_agree: int, consensus: str = "all") -> None:
    if mode not in MODES:
        raise ValueError(f"verify.outputs={mode!r}: expected one of {', '.join(MODES)}")
    if consensus not in CONSENSUS:
        raise ValueError(f"verify.consensus={consensus!r}: expected one of {', '.join(CONSENSUS)}")
    if int(min_agree) < 1:
        raise ValueError(f"verify.min_agree={min_agree!r}: expected an integer >= 1")


def predicted_labels(row: dict, min_votes: int, min_share: float) -> tuple[list, list[str]]:
    votes = [majority(samples or [], min_votes, min_share) for samples in row["output_samples"]]
    return [v[0] for v in votes], [v[2] for v in votes]


def program_key(code: str) -> str:
    """Programs that differ only in comments, formatting, docstrings or top-level expression statements (a
    `print(f(3))` demo after the function) are one program: none of that changes what the function returns."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    tree.body = [n for n in tree.body if not isinstance(n, ast.Expr)]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def distinct_programs(row: dict, solution_ids: list[str]) -> int:
    ids = set(solution_ids)
    return len({program_key(s["code"]) for s in row["solutions"] if s["solution_id"] in ids})


CONSENSUS = ("all", "suite")


def output_signature(row: dict, solution_id: str, indices: set[int] | None = None) -> tuple:
    """What a solution did on each input (of `indices`, else all): the value it returned, or that it crashed."""
    out = {}
    for v in row["verdicts"]:
        i = int(v["test_index"])
        if v["solution_id"] != solution_id or (indices is not None and i not in indices):
            continue
        try:
            out[i] = literal_key(v["output"]) if v["status"] in RETURNED and v["output"] is not None else "!crash"
        except ValueError:
            out[i] = "!unparseable"
    return tuple(sorted(out.items()))


def consensus_set(row: dict, solution_ids: list[str], on: str = "all", suite: list[int] | None = None) -> list[str]:
    """CodeT's consensus set among `solution_ids` (solutions that pass the labelled suite): the largest group,
    counted in distinct programs, whose members returned the same values on every input they all answered
    (`on="all"`: labelled or not) or on the suite only (`on="suite"`, where all of them agree by construction).
    [] on a tie between groups.

    Why all inputs: an input stays unlabelled when the programs split on it (tied or weak agreement). Two
    programs that each pass the labelled inputs but return different values on such an input read the task
    differently; at most one of them is right, so they are not a consensus, however the suite looks. An input
    that one of them crashes on is left out of the comparison: it is mostly outside the task's domain (`f(1, 1)`
    for a string function, where `a + b` returns 2 and `"".join([a + b])` raises), which tells robustness
    apart, not readings."""
    ids = set(solution_ids)
    if on == "all":
        answered: dict[int, set[str]] = defaultdict(set)
        for v in row["verdicts"]:
            if v["solution_id"] in ids and v["status"] in RETURNED and v["output"] is not None:
                answered[int(v["test_index"])].add(v["solution_id"])
        indices = {i for i, who in answered.items() if who == ids}
    else:
        indices = set(suite or [])
    program = {s["solution_id"]: program_key(s["code"]) for s in row["solutions"]}
    groups: dict[tuple, list[str]] = defaultdict(list)
    for sid in solution_ids:
        groups[output_signature(row, sid, indices)].append(sid)
    ranked = sorted(groups.values(), key=lambda g: -len({program[s] for s in g}))
    if len(ranked) > 1 and len({program[s] for s in ranked[1]}) == len({program[s] for s in ranked[0]}):
        return []
    return ranked[0] if ranked else []


def executed_labels(row: dict, min_agree: int) -> tuple[list, list[str]]:
    """Per input: the value most distinct programs return, or None with `no_outputs`, `weak_agreement` or
    `tied_agreement`. A boundary input is labelled second, by the programs that return every label of the other
    inputs: programs the suite already shows wrong say nothing about the edges (on is_prime(2), four programs
    that fail elsewhere outvote the two right ones)."""
    program = {s["solution_id"]: program_key(s["code"]) for s in row["solutions"]}
    probes = boundary.indices(row)
    # An input on which no program returns anything is a bad input (a list for an int), not evidence against the
    # programs: only crashes on inputs that some program handles disqualify a program from vouching (on a
    # boundary input, a crash disqualifies the input instead: label_inputs).
    answered = {int(v["test_index"]) for v in row["verdicts"] if v["status"] in RETURNED} - probes
    crashed = {program[v["solution_id"]] for v in row["verdicts"]
               if v["status"] in CRASHES and int(v["test_index"]) in answered}
    # input -> value key -> (programs returning it, one literal of it)
    groups: dict[int, dict] = defaultdict(dict)
    for v in row["verdicts"]:
        if v["status"] not in RETURNED or v["output"] is None:
            continue
        try:
            key = literal_key(v["output"])
        except ValueError:
            continue
        holders, _ = groups[int(v["test_index"])].setdefault(key, (set(), v["output"]))
        holders.add(program[v["solution_id"]])
    n = len(row["test_inputs"])
    out = [(None, "") if i in probes else _winner(groups[i], crashed, None, min_agree) for i in range(n)]
    plausible = {program[sid] for sid in plausible_solutions(row, [label for label, _ in out])} - crashed
    out = [_winner(groups[i], set(), plausible, min_agree) if i in probes else out[i] for i in range(n)]
    return [label for label, _ in out], [reason for _, reason in out]


def plausible_solutions(row: dict, labels: list) -> set[str]:
    """Solutions that return the label of every labelled input that is not a boundary input."""
    probes, labelled = boundary.indices(row), {i for i, label in enumerate(labels) if label is not None}
    wrong = {v["solution_id"] for v in row["verdicts"] if int(v["test_index"]) in labelled - probes
             and not (v["status"] in RETURNED and same_literal(v["output"], labels[int(v["test_index"])]))}
    return {s["solution_id"] for s in row["solutions"]} - wrong


def _winner(values: dict, crashed: set, among: set | None, min_agree: int) -> tuple:
    """(label, "") or (None, reason) for one input's {value key: (holders, literal)}; holders are counted among
    `among` when given, and a value held only by crashed programs does not count."""
    contest = sorted(((len(h if among is None else h & among), text) for h, text in values.values()
                      if h - crashed and (among is None or h & among)), key=lambda c: -c[0])
    if not contest:
        return None, "no_outputs"
    if len(contest) > 1 and contest[1][0] == contest[0][0]:
        return None, "tied_agreement"
    if contest[0][0] < min_agree:
        return None, "weak_agreement"
    return contest[0][1], ""


def label_inputs(row: dict, mode: str, *, min_votes: int = 2, min_share: float = 0.5,
                 min_agree: int = 2) -> tuple[list, list[str]]:
    """(label per input or None, reason per input: "" when labelled). In every mode a boundary input that a
    plausible solution (one that returns the other inputs' labels) crashes on is no test (`boundary_crash`): it
    is likely outside the task's domain. A program already shown wrong may crash anywhere."""
    labels, reasons = _labels(row, mode, min_votes, min_share, min_agree)
    plausible = plausible_solutions(row, labels)
    crashed = {int(v["test_index"]) for v in row["verdicts"]
               if v["status"] in CRASHES and v["solution_id"] in plausible} & boundary.indices(row)
    for i in crashed:
        if i < len(labels):
            labels[i], reasons[i] = None, "boundary_crash"
    return labels, reasons


def _labels(row: dict, mode: str, min_votes: int, min_share: float, min_agree: int) -> tuple[list, list[str]]:
    if mode == "predicted":
        return predicted_labels(row, min_votes, min_share)
    executed, exec_reasons = executed_labels(row, min_agree)
    if mode == "executed":
        return executed, exec_reasons
    predicted, pred_reasons = predicted_labels(row, min_votes, min_share)
    labels, reasons = [], []
    for p, pr, e, er in zip(predicted, pred_reasons, executed, exec_reasons):
        if p is None or e is None:
            labels.append(None), reasons.append(pr or er)
        elif same_literal(p, e):
            labels.append(p), reasons.append("")
        else:
            labels.append(None), reasons.append("predicted_differs_from_executed")
    return labels, reasons


def rejudge(verdicts: list[dict], labels: list) -> list[dict]:
    """Judge every returned value against the label of its input; errors keep their status, unlabelled inputs
    keep what the sandbox said (they are outside the suite)."""
    out = []
    for v in verdicts:
        label = labels[int(v["test_index"])]
        if label is not None and v["status"] in RETURNED and v["output"] is not None:
            ok = same_literal(v["output"], label)
            v = {**v, "status": "pass" if ok else "wrong_answer", "detail": "" if ok else f"returned {v['output'][:200]}"}
        out.append(v)
    return out
