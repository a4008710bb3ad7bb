"""Constrained decoding: the per-step formats (factory/llm/structured.py) and how each backend enforces them.

hf runs for real (the tiny model, xgrammar); vLLM's SamplingParams and the OpenAI-compatible request body are
checked with stand-ins that record what the backend sends (no GPU, no server here), and a `gpu`-marked test runs
real vLLM on SmolLM2's own prompts where a GPU is.
"""

from __future__ import annotations

import ast
import random
import re

import pytest

from factory.llm import Sampling
from factory.llm import structured
from factory.stages.parse import answer_text, parse_inputs

INPUTS = structured.test_inputs("pair_sum", 2, 6)


def _random_literal(rng: random.Random, depth: int):
    kinds = ["int", "float", "str", "bool", "none", "bytes"] + (["list", "tuple", "dict", "set"] if depth else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-10**6, 10**6)
    if kind == "float":
        return rng.choice([0.5, -2.25, 1e-05, 3.0e20])
    if kind == "str":
        return "".join(rng.choice("ab #'\"\\\n\tz") for _ in range(rng.randint(0, 5)))
    if kind == "bytes":
        return b"ab"
    if kind in ("bool", "none"):
        return rng.choice([True, False, None])
    items = [_random_literal(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    if kind == "set":
        return {repr(i) for i in items} or {0}   # `set()` is a call, not a literal display
    return {rng.randint(0, 9): i for i in items}


def test_every_literal_repr_matches_and_the_regex_admits_only_literals():
    rng = random.Random(0)
    pattern = re.compile(structured.literal(2))
    for _ in range(500):
        value = _random_literal(rng, 2)
        assert pattern.fullmatch(repr(value)), repr(value)
    for text in ("x", "[1, 2", "f(1)", "01", "1 + 2", "'a\nb'", "[[[1]]]", "print(1)"):
        assert not pattern.fullmatch(text), text


def test_a_test_inputs_reply_in_the_format_parses_line_for_line_with_the_right_arity():
    reply = ("```python\npair_sum([1, 2], 3)  # general\npair_sum([], 0)  # corner\n"
             "pair_sum('#a', -1.5)  # difficult\n```")
    assert re.fullmatch(INPUTS, reply)
    assert parse_inputs(reply, 2, "pair_sum", ["xs", "k"]) == [
        ("[[1, 2], 3]", "general"), ("[[], 0]", "corner"), ("['#a', -1.5]", "difficult")]
    for wrong in ("```python\npair_sum([1, 2])  # general\n```",            # arity 1, not 2
                  "```python\nother([1], 3)  # general\n```",               # another function
                  "```python\ndef pair_sum(xs, k):\n    return 0\n```",     # the function instead of calls
                  "```python\n" + "pair_sum(1, 2)  # general\n" * 7 + "```"):   # more lines than asked
        assert not re.fullmatch(INPUTS, wrong), wrong
    with pytest.raises(ValueError, match="bad entry point"):
        structured.test_inputs("not a name", 1, 6)


def test_a_test_output_reply_in_the_format_gives_its_answer():
    pattern = structured.test_output(reasoning_lines=3)
    reply = "It sums the list:\n\n1 + 2 = 3.\nOutput: [3, 'x']"
    assert re.fullmatch(pattern, reply)
    assert ast.literal_eval(answer_text(reply, "f")) == [3, "x"]
    assert re.fullmatch(pattern, "Output: 3")                             # no reasoning at all is fine
    assert not re.fullmatch(pattern, "a\n" * 4 + "Output: 3")            # more lines than allowed
    assert not re.fullmatch(pattern, "It is three.\nOutput: three")       # not a literal


@pytest.fixture(scope="module")
def hf(tiny_path):
    from factory.llm.hf import HFLLM

    return HFLLM(tiny_path, batch_size=4, torch_threads=1)


def test_hf_replies_match_the_regex_and_free_rows_of_the_same_batch_stay_free(hf):
    """The tiny model writes random tokens: free, no reply matches; constrained, every reply does (a short regex),
    or is a prefix of a match that max_tokens cut (the test_inputs regex: random strings run long)."""
    import regex as partial   # transformers' own dependency; `re` cannot test "a prefix of a match"

    short = r"(yes|no)-[0-9]{1,3}"
    prompts = [[{"role": "user", "content": f"inputs please {i}"}] for i in range(3)]
    free = Sampling(n=2, temperature=1.0, max_tokens=48, seeds=(1, 2, 3))
    free_replies = hf.generate(prompts, free)
    assert not any(re.fullmatch(p, r) for p in (INPUTS, short) for rs in free_replies for r in rs)
    replies = hf.generate(prompts, Sampling(n=2, temperature=1.0, max_tokens=48, seeds=(1, 2, 3),
                                            regexes=(short, None, INPUTS)))
    assert all(re.fullmatch(short, r) for r in replies[0]), replies[0]
    assert all(partial.fullmatch(INPUTS, r, partial=True) for r in replies[2]), replies[2]
    # A prompt without a regex is not masked: with its seed and batch it samples what it samples free.
    assert not any(re.fullmatch(p, r) for p in (INPUTS, short) for r in replies[1])


class RecordingEngine:
    """`vllm.LLM.chat` as the backend uses it, recording the SamplingParams arguments of each prompt."""

    def __init__(self):
        self.params = []

    def chat(self, prompts, params, use_tqdm=False):
        from types import SimpleNamespace

        self.params += params
        return [SimpleNamespace(outputs=[SimpleNamespace(text="r", token_ids=[1]) for _ in range(p["n"])])
                for p in params]


def test_vllm_sends_each_prompts_regex_as_structured_outputs_and_none_for_free_prompts():
    from factory.llm.vllm import VLLM

    engine = RecordingEngine()
    llm = VLLM("unused", engine=engine, sampling_params=dict, structured_params=lambda **k: ("StructuredOutputs", k))
    llm.generate([[{"role": "user", "content": t}] for t in "abc"],
                 Sampling(n=2, temperature=0.7, seeds=(1, 2, 3), regexes=(INPUTS, None, "x+")))
    assert [p.get("structured_outputs") for p in engine.params] == [
        ("StructuredOutputs", {"regex": INPUTS}), None, ("StructuredOutputs", {"regex": "x+"})]
    llm.generate([[{"role": "user", "content": "a"}]], Sampling(n=1))
    assert "structured_outputs" not in engine.params[-1]


def test_openai_sends_the_regex_in_the_configured_field(monkeypatch):
    from tests.llm.test_openai import KEY, Script, make_handler
    from http.server import ThreadingHTTPServer
    import threading

    from factory.llm.openai import OpenAIChat

    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    prompts = [[{"role": "user", "content": t}] for t in ("a", "b")]
    sampling = Sampling(n=1, seeds=(1, 2), regexes=(INPUTS, None))
    try:
        for field, sent in (("structured_outputs", {"structured_outputs": {"regex": INPUTS}}),
                            ("guided_regex", {"guided_regex": INPUTS}), (None, {})):
            script.bodies.clear()
            OpenAIChat(url, "m", api_key_env="TEST_LLM_KEY", regex_field=field).generate(prompts, sampling)
            bodies = {b["messages"][-1]["content"]: b for b in script.bodies}
            extra = {k: v for k, v in bodies["a"].items() if k in ("structured_outputs", "guided_regex")}
            assert extra == sent, field
            assert not {"structured_outputs", "guided_regex"} & set(bodies["b"])   # the free prompt
        with pytest.raises(ValueError, match="llm.regex_field"):
            OpenAIChat(url, "m", api_key_env="TEST_LLM_KEY", regex_field="guided_json")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_stage_passes_formats_only_when_the_step_says_structured():
    from omegaconf import OmegaConf

    from factory.stages.llm_stage import LLMStage

    stage = LLMStage(llm={}, model={}, sampling=OmegaConf.create(
        {"temperature": 0.5, "top_p": 1.0, "max_tokens": 8, "structured": True}))
    assert stage.params(1, ["a", "b"], formats=["x", None]).regexes == ("x", None)
    free = OmegaConf.create({"temperature": 0.5, "top_p": 1.0, "max_tokens": 8, "structured": False})
    assert stage.params(1, ["a", "b"], sampling=free, formats=["x", None]).regexes is None
    unset = OmegaConf.create({"temperature": 0.5, "top_p": 1.0, "max_tokens": 8})
    OmegaConf.set_struct(unset, True)   # Hydra's configs are struct: an absent key must read as false
    assert stage.params(1, ["a"], sampling=unset, formats=["x"]).regexes is None


@pytest.mark.gpu
def test_vllm_real_replies_match_the_test_inputs_format(tmp_path):
    """On a GPU: vLLM 0.29 with SmolLM2, the tests stage's own prompt; every reply is in the format or was cut by
    max_tokens, and parse_inputs reads every complete line."""
    vllm = pytest.importorskip("vllm", reason="vLLM is installed on GPU machines only")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    import regex as partial

    from factory.llm import make_llm

    llm = make_llm({"backend": "vllm", "gpu_memory_utilization": 0.3, "max_model_len": 2048},
                   {"source": "gguf_package", "cache_dir": str(tmp_path)})
    prompt = [{"role": "user", "content": "Write 6 test inputs for `pair_sum(xs, k)`, one call per line, in a "
                                          "python block, each with a comment naming its kind."}]
    replies = llm.generate([prompt] * 4, Sampling(n=4, temperature=0.8, max_tokens=256, seeds=(1, 2, 3, 4),
                                                  regexes=(INPUTS,) * 4))
    assert vllm is not None
    for reply in (r for rs in replies for r in rs):
        assert partial.fullmatch(INPUTS, reply, partial=True), reply
        complete = [line for line in reply.splitlines()[1:] if line.endswith(("general", "corner", "difficult"))]
        assert len(parse_inputs(reply, 2, "pair_sum", ["xs", "k"])) >= len(set(complete)) > 0


def test_openvino_samples_of_one_prompt_each_match_the_regex(tiny_path, tmp_path_factory):
    """OpenVINO GenAI 2026.4 garbles constrained replies when one request carries several sequences (they share a
    grammar matcher); the backend sends each sample as its own request, so every sample matches by itself."""
    import regex as partial

    from factory.llm import make_llm

    llm = make_llm({"backend": "openvino", "weight_format": "fp16", "threads": 1},
                   {"source": "local", "path": tiny_path, "cache_dir": str(tmp_path_factory.mktemp("ov-cache"))})
    short = r"(yes|no)-[0-9]{1,3}"
    prompts = [[{"role": "user", "content": f"inputs please {i}"}] for i in range(2)]
    replies = llm.generate(prompts, Sampling(n=3, temperature=1.0, max_tokens=48, seeds=(1, 2),
                                             regexes=(short, INPUTS)))
    assert all(re.fullmatch(short, r) for r in replies[0]), replies[0]
    assert all(partial.fullmatch(INPUTS, r, partial=True) for r in replies[1]), replies[1]
    assert len(set(replies[0] + replies[1])) > 2   # sampled, each its own seed
    free = llm.generate(prompts, Sampling(n=3, temperature=1.0, max_tokens=48, seeds=(1, 2)))
    assert not any(re.fullmatch(short, r) for r in free[0])


def test_structured_is_on_by_default_for_test_outputs_and_must_be_a_bool():
    from factory.config import ConfigError, load_config

    cfg = load_config([])   # inputs: off, measured on the whole quickstart (docs/llm.md "Constrained decoding")
    assert cfg.generate.test_inputs.structured is False and cfg.generate.test_output.structured is True
    with pytest.raises(ConfigError, match=r"generate\.test_output\.structured"):
        load_config(["generate.test_output.structured=maybe"])


def test_the_tests_stage_asks_for_its_formats_per_row_and_step():
    from omegaconf import OmegaConf

    from factory.stages.tests import Tests

    class Recorder:
        def __init__(self):
            self.calls = []

        def generate(self, prompts, sampling):
            self.calls.append(sampling)
            reply = "```python\npair_sum([1], 2)  # general\n```" if len(self.calls) == 1 else "Output: 3"
            return [[reply] * sampling.n for _ in prompts]

    on = OmegaConf.create({"temperature": 0.6, "top_p": 0.95, "max_tokens": 64, "structured": True})
    stage = Tests(llm={}, model={}, sampling=on, output_sampling=on, num_inputs=4, num_outputs=2)
    stage.engine = Recorder()
    row = {"problem_id": "p1", "problem": "sum", "signature": "def pair_sum(xs, k):\n    ...",
           "entry_point": "pair_sum", "params": ["xs", "k"]}
    out = [r for r in stage.process([row]) if isinstance(r, dict)]
    inputs_call, outputs_call = stage.engine.calls
    assert inputs_call.regexes == (structured.test_inputs("pair_sum", 2, 4),)
    assert outputs_call.regexes == (structured.test_output(),)
    assert out[0]["test_inputs"] == ["[[1], 2]"] and out[0]["expected"] == ["3"]
