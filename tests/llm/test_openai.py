"""The openai backend against a local HTTP server of this test's own: replies, 429/5xx retries, auth, limits."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from factory.llm import Sampling
from factory.llm.openai import OpenAIChat

KEY = "sk-test-123"


class Script:
    """What the server does, per prompt text: 'flaky' fails twice (429 then 500) before answering, 'bad' is a 400,
    'stingy' returns one choice whatever n is, anything else answers at once after a short pause."""

    def __init__(self):
        self.lock = threading.Lock()
        self.bodies, self.attempts, self.in_flight, self.max_in_flight = [], {}, 0, 0


def make_handler(script: Script):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code: int, payload: dict, headers: dict | None = None):
            data = json.dumps(payload).encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            if self.path != "/v1/chat/completions":
                return self.reply(404, {"error": self.path})
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                return self.reply(401, {"error": "bad key"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            text = body["messages"][-1]["content"]
            with script.lock:
                script.bodies.append(body)
                attempt = script.attempts[text] = script.attempts.get(text, 0) + 1
                script.in_flight += 1
                script.max_in_flight = max(script.max_in_flight, script.in_flight)
            try:
                time.sleep(0.05)
                if text == "flaky" and attempt == 1:
                    return self.reply(429, {"error": "slow down"}, {"Retry-After": "0"})
                if text == "flaky" and attempt == 2:
                    return self.reply(500, {"error": "oops"})
                if text == "bad":
                    return self.reply(400, {"error": "context too long"})
                n = 1 if text == "stingy" else body["n"]
                choices = [{"index": i, "message": {"role": "assistant", "content": f"{text}#{attempt}.{i}"}}
                           for i in range(n)]
                return self.reply(200, {"choices": choices})
            finally:
                with script.lock:
                    script.in_flight -= 1

    return Handler


@pytest.fixture
def server():
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield script
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def client(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    return OpenAIChat(server.url, "served-model", api_key_env="TEST_LLM_KEY", max_concurrency=3, max_retries=3,
                      timeout=5, backoff_s=0.01)


def ask(text):
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_n_replies_in_order_with_bounded_concurrency(server, client):
    texts = [f"p{i}" for i in range(9)]
    replies = client.generate([ask(t) for t in texts], Sampling(n=2, temperature=0.7, top_p=0.9, max_tokens=64,
                                                                seed=5))
    assert replies == [[f"{t}#1.0", f"{t}#1.1"] for t in texts]
    assert 1 < server.max_in_flight <= 3  # parallel, never beyond max_concurrency
    body = server.bodies[0]
    assert (body["model"], body["n"], body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == \
        ("served-model", 2, 0.7, 0.9, 64, 5)
    assert body["messages"][0] == {"role": "system", "content": "be brief"}


def test_429_and_500_are_retried_with_backoff(server, client):
    [replies] = client.generate([ask("flaky")], Sampling(n=1))
    assert replies == ["flaky#3.0"]
    assert server.attempts["flaky"] == 3


def test_a_rejected_prompt_gets_empty_replies_only(server, client):
    replies = client.generate([ask("a"), ask("bad"), ask("b")], Sampling(n=2))
    assert replies == [["a#1.0", "a#1.1"], ["", ""], ["b#1.0", "b#1.1"]]
    assert server.attempts["bad"] == 1  # a 400 is not retried


def test_missing_choices_are_asked_for_again(server, client):
    [replies] = client.generate([ask("stingy")], Sampling(n=3, temperature=1.0))
    assert replies == ["stingy#1.0", "stingy#2.0", "stingy#3.0"]
    assert [b["n"] for b in server.bodies] == [3, 2, 1]


def test_a_wrong_key_fails_at_once_naming_the_setting(server, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", "sk-wrong")
    client = OpenAIChat(server.url, "m", api_key_env="TEST_LLM_KEY", max_retries=3, backoff_s=0.01)
    with pytest.raises(RuntimeError, match="HTTP 401.*llm.api_key_env"):
        client.generate([ask("a")], Sampling())
    assert not server.bodies


def test_the_key_comes_from_the_named_env_var_only(server, monkeypatch):
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    with pytest.raises(ValueError, match=r"\$TEST_LLM_KEY is not set"):
        OpenAIChat(server.url, "m", api_key_env="TEST_LLM_KEY")
    keyless = OpenAIChat(server.url, "m", api_key_env=None, max_retries=0)
    with pytest.raises(RuntimeError, match="401"):  # this server wants a key: none was sent
        keyless.generate([ask("a")], Sampling())


def test_an_endpoint_that_stays_down_raises_after_the_retries():
    client = OpenAIChat("http://127.0.0.1:9/v1", "m", api_key_env=None, max_retries=2, timeout=2, backoff_s=0.01)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"127.0.0.1:9/v1/chat/completions: giving up after 3 attempts"):
        client.generate([ask("a")], Sampling())
    assert time.monotonic() - started < 10


def test_each_prompt_sends_its_own_seed(server, client):
    client.generate([ask("a"), ask("b")], Sampling(n=1, temperature=0.7, seed=1, seeds=(101, 202)))
    assert {b["messages"][-1]["content"]: b["seed"] for b in server.bodies} == {"a": 101, "b": 202}


def test_a_call_where_every_prompt_is_rejected_fails_instead_of_yielding_drops(server, client):
    from factory.llm.base import BackendFailed

    with pytest.raises(BackendFailed, match="llm=openai: all 2 prompts.*HTTP 400"):
        client.generate([ask("bad"), ask("bad")], Sampling(n=2))
