"""Row counts of benchmarks/verify.py's synthetic executions through verification, sft and dpo: this tree vs an
older commit's code on the same data (what each verification rule keeps and drops).

    python benchmarks/verify_rows.py --rows 5000 --baseline-commit 66788d2

Prints per tree: verification rows, trusted problems, untrusted reasons, dropped parts by reason, SFT/DPO rows
per role. Writes docs/perf/verify_rows.md.
"""
import argparse, json, shutil, subprocess, sys, tempfile
from pathlib import Path
from collections import Counter

ROOT = Path(__file__).resolve().parent.parent
CHILD = r'''
import sys, json
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from factory.config import load_config
from factory.executors.local import LocalExecutor
from factory.pipeline import build_stage
from factory.executors.shards import shard_names
data, out = Path(sys.argv[2]), Path(sys.argv[3])
cfg = load_config(["executor=local", f"run_dir={out}", "verify.coverage=false"] + sys.argv[4:])
chain = [(build_stage(cfg, n, out), data if n == "verification" else out / "verification", out / n) for n in ("verification", "sft", "dpo")]
LocalExecutor().run_chain(chain, shard_names(data))
'''


def make_data(data: Path, rows: int) -> None:
    subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'benchmarks')!r}];"
                    "from verify import make_data; from pathlib import Path; make_data(Path(sys.argv[1]), int(sys.argv[2]), 1000)",
                    str(data), str(rows)], check=True)


def summarize(out):
    res = {}
    for st in ("verification", "sft", "dpo"):
        files = list((out / "_meta" / st / "stats").glob("*.json")) or list((out / st / "_stats").glob("*.json"))
        stats = [json.loads(f.read_text()) for f in files]
        d = Counter()
        for s in stats: d.update(s["dropped"])
        res[st] = {"rows_out": sum(s["rows_out"] for s in stats), "dropped": dict(d)}
        if st == "verification":
            m = Counter(); tr = 0; un = Counter()
            for s in stats:
                tr += s["metrics"]["trusted"]; m.update(s["metrics"]["pairs"]); un.update(s["metrics"]["untrusted_reasons"])
            res[st].update(trusted=tr, pairs=dict(m), untrusted=dict(un))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--baseline-commit", default="66788d2", help="the code before the trustworthy-rows issue")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    tree = work / "baseline-src"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), args.baseline_commit], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lines = [f"Command: `python benchmarks/verify_rows.py --rows {args.rows} --baseline-commit {args.baseline_commit}`", ""]
    try:
        make_data(work / "executions", args.rows)
        for name, src, extra in ((f"baseline {args.baseline_commit}", tree, []), ("this tree", ROOT, [])):
            out = work / name.replace(" ", "_")
            subprocess.run([sys.executable, "-c", CHILD, str(src), str(work / "executions"), str(out), *extra],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lines.append(f"- {name}: `{json.dumps(summarize(out))}`")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "docs" / "perf" / "verify_rows.md").write_text("<!-- written by benchmarks/verify_rows.py -->\n" + text)


if __name__ == "__main__":
    main()
