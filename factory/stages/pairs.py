"""The sft and dpo stages: verification rows -> TRL-ready rows for both roles (solver and verifier).

Both read RUN_DIR/repair_executions (verification rows with the soft stage's `source` and the `repairs` of the
repair stages; plain verification rows work too) and write many rows per problem (none for an untrusted one). The rows load with
`datasets.load_dataset("parquet", data_files=...)` and go into TRL's SFTTrainer (conversational
prompt/completion) and DPOTrainer (prompt/chosen/rejected) as they are; the `role` column lets a recipe train
one role or both, the `source` column (verified, soft, repair) lets it keep or weigh the rows brought back. The row building itself is factory/verify/pairs.py, shared with `factory verify`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from factory.schema import DPO, SFT
from factory.stages.base import Stage
from factory.verify.pairs import dpo_rows, sft_rows

NEEDS = ("problem_id", "problem", "signature", "entry_point", "solutions", "test_inputs", "output_samples",
         "output_reasoning", "labels", "trusted", "test_indices", "chosen_solution_ids", "rejected_solution_ids")


def _role_counts(rows: list[dict]) -> dict:
    return {"rows_per_role": dict(Counter(r["role"] for r in rows)),
            "rows_per_source": dict(Counter(r["source"] for r in rows)),
            "problems": len({r["problem_id"] for r in rows}),
            "problems_per_source": {src: len({r["problem_id"] for r in rows if r["source"] == src})
                                    for src in sorted({r["source"] for r in rows})}}


@dataclasses.dataclass
class SFTData(Stage):
    name = "sft"
    schema = SFT
    requires = NEEDS
    batch_size = 256   # pure Python, no model: large batches cost nothing
    num_inputs: int = 6   # generate.num_inputs: the test_inputs prompt of the verifier's SFT rows

    def process(self, rows):
        for row in rows:
            yield from sft_rows(row, self.num_inputs)

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        return _role_counts(rows_out)


@dataclasses.dataclass
class DPOData(Stage):
    name = "dpo"
    schema = DPO
    requires = NEEDS
    batch_size = 256

    def process(self, rows):
        for row in rows:
            yield from dpo_rows(row)

    def shard_metrics(self, rows_out: list[dict]) -> dict:
        return _role_counts(rows_out)
