"""The pyarrow schema of every stage's rows: the data contract that users and outside scripts read.

Rows are one per problem from `problems` to `verification`; each stage adds columns to what it read.
Literals (test inputs, expected outputs, program outputs) are Python source text, parsed with
`ast.literal_eval` where needed, so any reader can use them without this package.
"""

import pyarrow as pa

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))

REJECTED = pa.schema([
    ("id", pa.string()),        # problem_id, or problem_id/solution_id for a part of a row
    ("stage", pa.string()),
    ("reason", pa.string()),    # e.g. no_code_block, bad_signature, near_duplicate
    ("detail", pa.string()),    # the offending reply or an explanation, truncated
])

SEEDS = pa.schema([
    ("seed_id", pa.string()),
    ("origin", pa.string()),    # file path (and line) or dataset name the snippet came from
    ("seed", pa.string()),      # 1-15 lines of code
])

PROBLEMS = pa.schema(list(SEEDS) + [
    ("problem_id", pa.string()),
    ("style", pa.string()),     # mbpp | apps | codecontests
    ("problem", pa.string()),   # self-contained statement written by the model
])

SIGNATURES = pa.schema(list(PROBLEMS) + [
    ("signature", pa.string()),   # starter code: imports, one typed function, docstring
    ("entry_point", pa.string()),
    ("params", pa.list_(pa.string())),
])

DEDUP = SIGNATURES

SOLUTION = pa.struct([
    ("solution_id", pa.string()),   # f"{problem_id}/s{index}"
    ("code", pa.string()),          # extracted, ast-valid, defines entry_point
    ("reply", pa.string()),         # the raw model reply (reasoning as comments)
])

SOLUTIONS = pa.schema(list(DEDUP) + [("solutions", pa.list_(SOLUTION))])

TESTS = pa.schema(list(SOLUTIONS) + [
    ("test_inputs", pa.list_(pa.string())),                   # each a literal list of positional args
    ("input_kinds", pa.list_(pa.string())),                   # general | corner | difficult | example | boundary
    ("output_samples", pa.list_(pa.list_(pa.string()))),      # K sampled expected outputs per input (literals or unparsed text)
    ("output_reasoning", pa.list_(pa.list_(pa.string()))),    # the chain of thought of each sample
    ("expected", pa.list_(pa.string())),                      # majority output per input; null when none parsed
    ("vote_share", pa.list_(pa.float64())),                   # share of samples agreeing with the majority
])

VERDICT = pa.struct([
    ("solution_id", pa.string()),
    ("test_index", pa.int32()),
    ("status", pa.string()),      # pass, wrong_answer, runtime_error, timeout, ... (factory/sandbox/verdicts.py)
    ("detail", pa.string()),
    ("output", pa.string()),      # the returned value as a canonical literal, null if none
    ("cpu_ms", pa.float64()),
])

EXECUTIONS = pa.schema(list(TESTS) + [
    ("verdicts", pa.list_(VERDICT)),
    ("pass_rates", pa.list_(pa.float64())),   # per solution, in `solutions` order, over tests with a predicted output
])

IO_TEST = pa.struct([("inputs", pa.string()), ("expected", pa.string())])

# Verification keeps every executions column (problem text, code, reasoning) so sft/dpo can be built from it.
VERIFICATION = pa.schema(list(EXECUTIONS) + [
    # `verdicts` here are re-judged against `labels` (executions judged against the predicted `expected` only).
    ("labels", pa.list_(pa.string())),             # the expected output each input is judged by; null: not in the suite
    ("label_reasons", pa.list_(pa.string())),      # "" or why an input got no label (weak_vote, tied_agreement, ...)
    ("outputs", pa.string()),                      # verify.outputs: predicted | executed | agreed
    ("trusted", pa.bool_()),                       # the suite reached agreement under the rule
    ("rule", pa.string()),                         # e.g. strict, relaxed(tau=0.8,rejected=lowest)
    ("reason", pa.string()),                       # why it was (not) trusted
    ("tests", pa.list_(IO_TEST)),                  # the trusted suite after selection
    ("test_indices", pa.list_(pa.int32())),        # indices into test_inputs of the selected tests
    ("scores", pa.list_(pa.float64())),            # s(c, T) per solution, aligned with `solutions`
    ("chosen_solution_ids", pa.list_(pa.string())),
    ("rejected_solution_ids", pa.list_(pa.string())),
    ("coverage", pa.float64()),                    # branch coverage of the selected tests on a chosen solution
])

JUDGEMENT = pa.struct([("solution_id", pa.string()), ("correct", pa.bool_()),   # null: the reply gave no verdict
                       ("reasoning", pa.string())])

# The soft stage (an LLM step after verification) may turn an untrusted problem into a trusted one; it rewrites
# trusted, reason, labels (a test a soft-chosen solution fails: null, reason soft_dropped), tests, test_indices,
# chosen and rejected ids of those rows only (factory/stages/soft.py).
SOFT = pa.schema(list(VERIFICATION) + [
    ("source", pa.string()),                       # verified (by the rule) | soft (by LLM judgement) | null: untrusted
    ("soft_judgements", pa.list_(JUDGEMENT)),      # every sampled judgement, `verify.soft.samples` per solution
])

REPAIR_ATTEMPT = pa.struct([
    ("solution_id", pa.string()),   # the rejected solution it repairs
    ("repair_id", pa.string()),     # f"{solution_id}/r{attempt}"
    ("prompt", MESSAGES),           # the repair prompt: problem, code, failing trusted tests
    ("reply", pa.string()),
    ("code", pa.string()),
    ("passed", pa.bool_()),         # null until repair_executions ran it (and on an infra fault)
    ("detail", pa.string()),        # "" or the first failing test's status and detail
])

# repair (LLM) writes the attempts, repair_executions (sandbox) fills `passed` and `detail`: same schema.
REPAIR = pa.schema(list(SOFT) + [("repairs", pa.list_(REPAIR_ATTEMPT))])
REPAIR_EXECUTIONS = REPAIR

SFT = pa.schema([
    ("role", pa.string()),          # solver | verifier
    ("step", pa.string()),          # the prompt it answers: solution | test_inputs | test_output | repair
    ("source", pa.string()),        # verified | soft | repair: what made the row trustworthy
    ("problem_id", pa.string()),
    ("prompt", MESSAGES),           # TRL conversational prompt/completion
    ("completion", MESSAGES),
])

DPO = pa.schema([
    ("role", pa.string()),
    ("step", pa.string()),          # solution | test_output
    ("source", pa.string()),        # verified | soft | repair
    ("problem_id", pa.string()),
    ("prompt", MESSAGES),           # TRL conversational preference format
    ("chosen", MESSAGES),
    ("rejected", MESSAGES),
])
