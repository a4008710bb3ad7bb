"""How a stage should feed a continuous-batching engine: prompts per call (`llm.batch_size`) x requests in flight.

    python benchmarks/feeding.py [--rows 32] [--samples 2] [--max-tokens 192] [--repeats 3]
                                 [--variants ov:64 ov:8 oa:all:16 oa:8:16 oa:all:4 oa:all:1] [--out FILE]

The engine is real: OpenVINO GenAI's `ContinuousBatchingPipeline` on SmolLM2 (built by `make_llm`, so the
same export, tokenizer, chat template, seeds and stop ids as `llm=openvino`). It runs twice:
- `ov:B`, the in-process baseline: `llm=openvino` with `batch_size` B; each stage call is one `generate` call,
  i.e. one continuous batch that drains to its longest reply before the stage can hand over the next.
- `oa:B:C`: the same pipeline behind a local OpenAI-compatible server (a subprocess of this script, as
  `vllm serve` is its own process): HTTP threads queue requests, one engine thread adds them to the pipeline as
  they arrive and steps it, so requests from concurrent calls share one continuous batch, as in vLLM's async
  server. The stage uses the project's `llm=openai` backend with `batch_size` B and `max_concurrency` C.
  B = `all`: the whole shard in one call.
Both run the real stage code path: `Solutions.process` through `run_batches` on the first `--rows` HumanEval
problems of a cached run (`/tmp/yfinal/he-problems`, else HumanEval itself), prompts seeded by row id.

Per variant: generated tokens / shard wall time, the shard's wall time, the engine's idle share (the share of the
shard's wall time with no request in the engine: for `ov` the time outside `generate`, for `oa` measured by the
server's engine thread) and the mean requests in the engine per step (how full the continuous batch was).
Variants run interleaved, `--repeats` times; medians and ratios to the first variant, all in the same run.
The machine may be shared: the load average is printed at start and end; read ratios, not absolute rates.
"""

from __future__ import annotations

import argparse
import json
import os
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
        self.stats = {"idle_s": 0.0, "busy_s": 0.0, "steps": 0, "request_steps": 0, "tokens": 0}
        self.idle_since: float | None = None
        threading.Thread(target=self._loop, daemon=True).start()

    def snapshot(self) -> dict:
        """The counters now, the idle time so far included (the engine may be waiting right now)."""
        with self.cond:
            stats = dict(self.stats)
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
    from omegaconf import OmegaConf

    from factory.stages.solutions import Solutions

    kind, batch, *rest = variant.split(":")
    batch_size = rows if batch == "all" else int(batch)
    if kind == "ov":
        llm = dict(OV, batch_size=batch_size)
    elif kind == "oa":
        llm = {"backend": "openai", "base_url": f"{url}/v1", "api_key_env": None, "model": "smollm2",
               "batch_size": batch_size, "max_concurrency": int(rest[0]), "timeout": 3600}
    else:
        raise ValueError(f"variant {variant!r}: ov:BATCH or oa:BATCH:CONCURRENCY")
    sampling = OmegaConf.create({"temperature": 0.8, "top_p": 0.95, "max_tokens": max_tokens})  # generate.solution's
    stage = Solutions(llm=llm, model=MODEL, sampling=sampling, seed=0, num_solutions=samples)
    stage.setup()
    return stage


def run_once(stage, rows: list[dict], url: str) -> dict:
    from factory.stages.base import Dropped, run_batches

    inside = [0.0]
    generate = stage.engine.generate

    def timed(prompts, sampling):   # the stage's time inside its engine calls (in-process: the engine's busy time)
        start = time.perf_counter()
        try:
            return generate(prompts, sampling)
        finally:
            inside[0] += time.perf_counter() - start

    stage.engine.generate = timed
    before = json.loads(urllib.request.urlopen(url + "/stats").read())
    tokens_before, start = stage.engine.tokens_out, time.perf_counter()
    out = list(run_batches(stage, rows))
    wall = time.perf_counter() - start
    after = json.loads(urllib.request.urlopen(url + "/stats").read())
    stage.engine.generate = generate
    tokens = stage.engine.tokens_out - tokens_before
    if stage.llm["backend"] == "openvino":
        idle, per_step = (wall - inside[0]) / wall, None
    else:
        idle = (after["idle_s"] - before["idle_s"]) / wall
        steps = after["steps"] - before["steps"]
        per_step = (after["request_steps"] - before["request_steps"]) / max(1, steps)
    return {"wall": wall, "tokens": tokens, "rate": tokens / wall, "idle": idle, "per_step": per_step,
            "kept": sum(not isinstance(r, Dropped) for r in out)}


def table(runs: dict, repeats: int) -> str:
    base_name = next(iter(runs))
    base = statistics.median(r["rate"] for r in runs[base_name])
    lines = [f"after {repeats} repeat(s), load average {os.getloadavg()[0]:.1f}", "",
             f"| variant | tokens/s (median) | x {base_name} | shard wall s (median) | tokens (median) | "
             "engine idle share | requests in engine per step | rows kept |", "|---|---|---|---|---|---|---|---|"]
    for name, rs in runs.items():
        rate = statistics.median(r["rate"] for r in rs)
        per_step = [r["per_step"] for r in rs if r["per_step"] is not None]
        lines.append(f"| {name} | {rate:.1f} | {rate / base:.2f} | {statistics.median(r['wall'] for r in rs):.1f} | "
                     f"{statistics.median(r['tokens'] for r in rs):.0f} | "
                     f"{statistics.median(r['idle'] for r in rs):.1%} | "
                     f"{f'{statistics.median(per_step):.1f}' if per_step else 'n/a'} | "
                     f"{statistics.median(r['kept'] for r in rs):.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", help=argparse.SUPPRESS)   # the server subprocess: where to write its port
    parser.add_argument("--problems", type=Path, default=Path("/tmp/yfinal/he-problems/shard-00000.parquet"))
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=192)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+",
                        default=["ov:64", "ov:8", "oa:all:16", "oa:8:16", "oa:all:4", "oa:all:1"])
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    rows = shard_rows(args.problems, args.rows)
    command = "python benchmarks/feeding.py " + " ".join(sys.argv[1:])
    head = (f"Command: `{command}`\n\nCPUs: {len(os.sched_getaffinity(0))}; load average at start "
            f"{os.getloadavg()[0]:.1f}; solutions stage on {len(rows)} HumanEval problems x {args.samples} samples, "
            f"max_tokens={args.max_tokens}, temperature 0.8; median of {args.repeats} interleaved repeats")
    print(head, flush=True)
    server, url = start_server()
    try:
        stages = {v: make_stage(v, len(rows), args.samples, args.max_tokens, url) for v in args.variants}
        for stage in stages.values():   # warm-up: first-call allocations, in both engines
            stage.engine.generate([[{"role": "user", "content": "hi"}]], stage.params(1, ["warm"]))
        runs = {v: [] for v in stages}
        start = time.perf_counter()
        for repeat in range(args.repeats):
            for name, stage in stages.items():
                r = run_once(stage, rows, url)
                runs[name].append(r)
                print(f"  {name}: {r['tokens']} tokens in {r['wall']:.1f} s = {r['rate']:.1f} tok/s, idle "
                      f"{r['idle']:.1%}, load {os.getloadavg()[0]:.1f}", flush=True)
            report = table(runs, repeat + 1)   # after every repeat: a cut-short run still reports
            print("\n" + report + "\n", flush=True)
        if args.out:
            args.out.write_text(f"{head}; wall {(time.perf_counter() - start) / 60:.1f} min\n\n{report}\n")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
