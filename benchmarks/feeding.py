"""How a stage should feed a continuous-batching engine: prompts per call (`llm.batch_size`) x requests in flight.

    python benchmarks/feeding.py [--rows 16] [--shards 1] [--samples 1] [--max-tokens 320] [--repeats 3]
                                 [--variants ov:64 ov:8 oa:all:16 oa:8:16 oa:all:4 oa:all:2] [--out FILE]
    python benchmarks/feeding.py --shards 2 --variants ov:64 oa:all:16 oa:all:16:x2     # shards in flight

The engine is real: OpenVINO GenAI's `ContinuousBatchingPipeline` on SmolLM2 (built by `make_llm`, so the
same export, tokenizer, chat template, seeds and stop ids as `llm=openvino`). It runs twice:
- `ov:B`, the in-process baseline: `llm=openvino` with `batch_size` B; each stage call is one `generate` call,
  i.e. one continuous batch that drains to its longest reply before the stage can hand over the next.
- `oa:B:C`: the same pipeline behind a local OpenAI-compatible server (a subprocess of this script, as
  `vllm serve` is its own process): HTTP threads queue requests, one engine thread adds them to the pipeline as
  they arrive and steps it, so requests from concurrent calls share one continuous batch, as in vLLM's async
  server. The stage uses the project's `llm=openai` backend with `batch_size` B and `max_concurrency` C.
  B = `all`: the whole shard in one call. `oa:B:C:xK`: K shards in flight on one stage at once (threads), as
  an actor with several batches in flight (`ray.data.llm`'s `max_concurrent_batches`) would have.
Both run the real stage code path: `Solutions.process` through `run_batches` on HumanEval problems of a cached
run (`/tmp/yfinal/he-problems`, else HumanEval itself), prompts seeded by row id, so every variant samples the
same replies (equal token counts show it).

Every variant runs all `--shards` shards of `--rows` rows. Per variant: generated tokens / wall time, the wall
time, the engine's idle share (the share of the wall time with no request in the engine: for `ov` the time
outside `generate`, for `oa` measured by the server's engine thread), the engine's steps (`oa` only; on a GPU a
decode step costs about the same for 1 or 100 sequences, so steps are the GPU-time proxy that a CPU's wall time
is not) and the mean requests in the engine per step (how full the continuous batch was).
Variants run interleaved, `--repeats` times; medians and ratios to the first variant, all in the same run.
The machine may be shared: the load average is printed at start and end; read ratios, not absolute rates.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # the package from this tree, whatever is installed (as benchmarks/yield.py)

MODEL = {"source": "gguf_package"}
OV = {"backend": "openvino", "weight_format": "fp16"}


class Engine:
    """One pipeline, stepped by one thread; `submit` (any thread) queues a request and waits for its replies."""

    def __init__(self, llm):
        self.llm, self.pipe = llm, llm.pipe   # an OpenVINOLLM: its tokenizer, chat template and configs
        self.cond = threading.Condition()
        self.inbox: list[dict] = []
        self.stats = {"idle_s": 0.0, "busy_s": 0.0, "steps": 0, "request_steps": 0, "tokens": 0, "lengths": []}
        self.idle_since: float | None = None
        threading.Thread(target=self._loop, daemon=True).start()

    def snapshot(self) -> dict:
        """The counters now, the idle time so far included (the engine may be waiting right now)."""
        with self.cond:
            stats = dict(self.stats, lengths=list(self.stats["lengths"]))
            if self.idle_since is not None:
                stats["idle_s"] += time.perf_counter() - self.idle_since
        return stats

    def submit(self, body: dict) -> dict:
        from factory.llm import Sampling

        ids = self.llm._tokens(body["messages"])
        if ids is None:
            raise ValueError("chat template failed")
        n, temperature = int(body.get("n", 1)), float(body.get("temperature", 1.0))
        copies = 1 if temperature <= 0 else n   # greedy: generate once and copy, as the backend does
        sampling = Sampling(n=n, temperature=temperature, top_p=float(body.get("top_p", 1.0)),
                            max_tokens=int(body.get("max_tokens", 256)))
        job = {"ids": ids, "config": self.llm._config(sampling, copies, int(body.get("seed") or 0)),
               "done": threading.Event()}
        with self.cond:
            self.inbox.append(job)
            self.cond.notify()
        job["done"].wait()
        texts = [self.llm.tokenizer.decode(g, skip_special_tokens=True) for g in job["ids_out"]]
        return {"object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": t}}
                            for i, t in enumerate(texts * (n // copies))],
                "usage": {"prompt_tokens": len(ids), "completion_tokens": sum(len(g) for g in job["ids_out"])}}

    def _loop(self) -> None:
        import numpy as np
        import openvino

        live, next_id = {}, 0
        while True:
            with self.cond:
                self.idle_since = time.perf_counter()   # nothing to step: the engine idles
                while not self.inbox and not live:
                    self.cond.wait()
                self.stats["idle_s"] += time.perf_counter() - self.idle_since
                self.idle_since, new, self.inbox = None, self.inbox, []
            for job in new:   # added between steps: a request joins the running batch at once
                tensor = openvino.Tensor(np.array([job["ids"]], dtype=np.int64))
                live[next_id] = (job, self.pipe.add_request(next_id, tensor, job["config"]))
                next_id += 1
            start = time.perf_counter()
            self.pipe.step()
            self.stats["busy_s"] += time.perf_counter() - start
            self.stats["steps"] += 1
            self.stats["request_steps"] += len(live)
            for rid, (job, handle) in list(live.items()):
                if handle.get_status().name != "RUNNING":
                    job["ids_out"] = [list(o.generated_ids) for o in handle.read_all()]
                    self.stats["tokens"] += sum(len(g) for g in job["ids_out"])
                    self.stats["lengths"] += [len(g) for g in job["ids_out"]]
                    del live[rid]
                    job["done"].set()


def serve(port_file: str) -> None:
    """The server subprocess: POST /v1/chat/completions, GET /stats (the engine's counters)."""
    from factory.llm import make_llm

    engine = Engine(make_llm(OV, MODEL))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _reply(self, code: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._reply(200, engine.snapshot())

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            try:
                self._reply(200, engine.submit(body))
            except ValueError as err:
                self._reply(400, {"error": str(err)})

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    Path(port_file).write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


def start_server() -> tuple[subprocess.Popen, str]:
    port_file = Path(f"/tmp/feeding-port-{os.getpid()}")
    port_file.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
    for _ in range(600):
        if port_file.exists() and port_file.read_text():
            return proc, f"http://127.0.0.1:{port_file.read_text()}"
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the server did not start in 300 s")


def shard_rows(path: Path, count: int) -> list[dict]:
    """The first `count` problems of a cached HumanEval run (benchmarks/yield.py made it), else made here."""
    import importlib

    import pyarrow.parquet as pq

    if not path.exists():   # the same rows yield.py writes (its function, by import)
        importlib.import_module("yield").humaneval_problems(count, path.parent)
    return pq.read_table(path).to_pylist()[:count]


def make_stage(variant: str, rows: int, samples: int, max_tokens: int, url: str):
    """`ov:B`, `oa:B:C` or `oa:B:C:xK` (K shards in flight on one stage, as an actor taking K shards at once)."""
    from omegaconf import OmegaConf

    from factory.stages.solutions import Solutions

    kind, batch, *rest = variant.split(":")
    batch_size = rows if batch == "all" else int(batch)
    shards_in_flight = int(rest[1].lstrip("x")) if len(rest) > 1 else 1
    if kind == "ov" and not rest:
        llm = dict(OV, batch_size=batch_size)
    elif kind == "oa" and rest:
        llm = {"backend": "openai", "base_url": f"{url}/v1", "api_key_env": None, "model": "smollm2",
               "batch_size": batch_size, "max_concurrency": int(rest[0]), "timeout": 3600}
    else:
        raise ValueError(f"variant {variant!r}: ov:BATCH or oa:BATCH:CONCURRENCY[:xSHARDS]")
    sampling = OmegaConf.create({"temperature": 0.8, "top_p": 0.95, "max_tokens": max_tokens})  # generate.solution's
    stage = Solutions(llm=llm, model=MODEL, sampling=sampling, seed=0, num_solutions=samples)
    stage.setup()
    stage.shards_in_flight = shards_in_flight
    return stage


def run_once(stage, shards: list[list[dict]], url: str) -> dict:
    """Every shard through the stage (`run_batches`, as the executors call it), `stage.shards_in_flight` at once."""
    from concurrent.futures import ThreadPoolExecutor

    from factory.stages.base import Dropped, run_batches

    inside, lock = [0.0], threading.Lock()
    generate = stage.engine.generate

    def timed(prompts, sampling):   # the stage's time inside its engine calls (in-process: the engine's busy time)
        start = time.perf_counter()
        try:
            return generate(prompts, sampling)
        finally:
            with lock:
                inside[0] += time.perf_counter() - start

    stage.engine.generate = timed
    before = json.loads(urllib.request.urlopen(url + "/stats").read())
    tokens_before, start = stage.engine.tokens_out, time.perf_counter()
    with ThreadPoolExecutor(stage.shards_in_flight) as pool:
        out = [r for rows in pool.map(lambda rows: list(run_batches(stage, rows)), shards) for r in rows]
    wall = time.perf_counter() - start
    after = json.loads(urllib.request.urlopen(url + "/stats").read())
    stage.engine.generate = generate
    tokens = stage.engine.tokens_out - tokens_before
    if stage.llm["backend"] == "openvino":
        idle, steps, per_step = (wall - inside[0]) / wall, None, None
    else:
        idle = (after["idle_s"] - before["idle_s"]) / wall
        steps = after["steps"] - before["steps"]
        per_step = (after["request_steps"] - before["request_steps"]) / max(1, steps)
    return {"wall": wall, "tokens": tokens, "rate": tokens / wall, "idle": idle, "steps": steps,
            "per_step": per_step, "kept": sum(not isinstance(r, Dropped) for r in out)}


def tail_model(lengths: list[int], rows: int = 256, samples: int = 4, capacity: int = 256, trials: int = 20) -> str:
    """GPU arithmetic from this run's reply lengths: a 256-row shard x 4 samples (deploy/'s shard_size, the
    solution stage's n) through an engine of `capacity` sequences (vLLM's max_num_seqs on an A100: 256). A GPU's
    decode step costs about the same however full the batch is, so wall time follows steps. One shard at a time,
    the batch drains to the shard's longest reply; with the next shard already queued (several in flight) the
    engine stays full: sum(lengths) / capacity steps."""
    import random

    rng, alone, full = random.Random(0), [], []
    for _ in range(trials):
        todo = [rng.choice(lengths) for _ in range(rows * samples)]   # resampled replies, one per sequence
        running, steps, queue = [], 0, list(todo)
        while running or queue:
            while queue and len(running) < capacity:
                running.append(queue.pop())
            steps += 1
            running = [left - 1 for left in running if left > 1]
        alone.append(steps)
        full.append(sum(todo) / capacity)
    a, f = statistics.median(alone), statistics.median(full)
    return (f"GPU arithmetic ({len(lengths)} measured reply lengths, median {statistics.median(lengths):.0f}, max "
            f"{max(lengths)}): a {rows}-row shard x {samples} samples at {capacity} sequences takes {a:.0f} steps "
            f"alone, {f:.0f} with the next shard queued behind it: several shards in flight would save "
            f"{1 - f / a:.0%} of the steps.")


def table(runs: dict, repeats: int, shards: int) -> str:
    def median(rs, key, fmt):
        values = [r[key] for r in rs if r[key] is not None]
        return format(statistics.median(values), fmt) if values else "n/a"

    base_name = next(iter(runs))
    lines = [f"after {repeats} repeat(s), load average {os.getloadavg()[0]:.1f}", "",
             f"| variant | tokens/s | x {base_name} (paired) | wall s, {shards} shard(s) | tokens | "
             "engine idle share | engine steps | requests in engine per step | rows kept |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, rs in runs.items():
        rate = statistics.median(r["rate"] for r in rs)
        # The median of per-repeat ratios: each pairs a variant with the baseline run just before it, so a
        # burst of load from the machine's other jobs moves both.
        paired = statistics.median(r["rate"] / b["rate"] for r, b in zip(rs, runs[base_name]))
        lines.append(f"| {name} | {rate:.1f} | {paired:.2f} | {median(rs, 'wall', '.1f')} | "
                     f"{median(rs, 'tokens', '.0f')} | {median(rs, 'idle', '.1%')} | {median(rs, 'steps', '.0f')} | "
                     f"{median(rs, 'per_step', '.1f')} | {median(rs, 'kept', '.0f')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", help=argparse.SUPPRESS)   # the server subprocess: where to write its port
    parser.add_argument("--problems", type=Path, default=Path("/tmp/yfinal/he-problems/shard-00000.parquet"))
    parser.add_argument("--rows", type=int, default=16, help="rows per shard (conf/config.yaml's shard_size: 16)")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+",
                        default=["ov:64", "ov:8", "oa:all:16", "oa:8:16", "oa:all:4", "oa:all:2"])
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    rows = shard_rows(args.problems, args.rows * args.shards)
    shards = [rows[i:i + args.rows] for i in range(0, len(rows), args.rows)]
    command = "python benchmarks/feeding.py " + " ".join(sys.argv[1:])
    head = (f"Command: `{command}`\n\nCPUs: {len(os.sched_getaffinity(0))}; load average at start "
            f"{os.getloadavg()[0]:.1f}; solutions stage on {len(shards)} shard(s) of {args.rows} HumanEval problems "
            f"x {args.samples} samples, max_tokens={args.max_tokens}, temperature 0.8; median of {args.repeats} "
            "interleaved repeats")
    print(head, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # `kill` still stops the server (finally below)
    server, url = start_server()
    try:
        stages = {v: make_stage(v, args.rows, args.samples, args.max_tokens, url) for v in args.variants}
        for stage in stages.values():   # warm-up: first-call allocations, in both engines
            stage.engine.generate([[{"role": "user", "content": "hi"}]], stage.params(1, ["warm"]))
        warm = len(json.loads(urllib.request.urlopen(url + "/stats").read())["lengths"])   # warm-up replies
        runs = {v: [] for v in stages}
        start = time.perf_counter()
        for repeat in range(args.repeats):
            for name, stage in stages.items():
                r = run_once(stage, shards, url)
                runs[name].append(r)
                print(f"  {name}: {r['tokens']} tokens in {r['wall']:.1f} s = {r['rate']:.1f} tok/s, idle "
                      f"{r['idle']:.1%}, load {os.getloadavg()[0]:.1f}", flush=True)
            report = table(runs, repeat + 1, len(shards))   # after every repeat: a cut-short run still reports
            print("\n" + report + "\n", flush=True)
        lengths = json.loads(urllib.request.urlopen(url + "/stats").read())["lengths"][warm:]
        if lengths:
            report += "\n\n" + tail_model(lengths)
            print(report.rsplit("\n", 1)[-1], flush=True)
        if args.out:
            args.out.write_text(f"{head}; wall {(time.perf_counter() - start) / 60:.1f} min\n\n{report}\n")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
