"""Problem coverage with the real all-MiniLM-L6-v2 embeddings (offline package) against HumanEval."""

import json

import matplotlib.image as mpimg

from factory import schema
from factory.eval.benchmarks import load_benchmark
from factory.executors.shards import write_shard
from factory.report import coverage
from tests.report.conftest import Written

OFF_TOPIC = ["Describe the history of the Roman empire in three paragraphs.",
             "Recommend a good recipe for a chocolate cake with berries.",
             "Which football club won the most championships in Spain?"]


def _run(path, texts):
    rows = [{"problem_id": f"p{i}", "problem": t} for i, t in enumerate(texts)]
    write_shard(Written("dedup", schema.DEDUP), path / "dedup", "shard-00000", rows, [], len(rows), 0.0)
    return path


def test_paraphrases_cover_more_than_off_topic_text(tmp_path):
    humaneval = [p.description for p in load_benchmark("humaneval")]
    on_topic = _run(tmp_path / "on", humaneval[:40] + OFF_TOPIC)
    off_topic = _run(tmp_path / "off", OFF_TOPIC * 3)
    on = coverage.plot_coverage(on_topic, on_topic / "report" / "coverage.png")
    off = coverage.plot_coverage(off_topic, off_topic / "report" / "coverage.png")
    assert on["benchmark_problems"] == 164 and on["synthetic_problems"] == 43
    # The 40 copied problems are covered (similarity 1) and their neighbours in topic raise the rest.
    assert on["covered"] >= 40 / 164 and on["mean_nearest_similarity"] > off["mean_nearest_similarity"] + 0.1
    assert off["covered"] < 0.05
    assert json.loads((on_topic / "report" / "coverage.json").read_text())["covered"] == on["covered"]
    image = mpimg.imread(on_topic / "report" / "coverage.png")
    assert image.shape[0] > 300 and image.std() > 0
