"""Any OpenAI-compatible /v1/chat/completions endpoint as an `LLM` (a `vllm serve` server, a hosted API).

Standard library only (urllib + threads): the backend must not add a dependency for one POST request.
- Concurrency is bounded by `max_concurrency` threads per instance; Ray replicas multiply it.
- 429, 5xx, timeouts and connection errors are retried with exponential backoff (honouring Retry-After);
  when retries run out the call raises, so the executor retries the shard instead of recording the endpoint's
  outage as dropped rows.
- 400/413/422 concern one prompt (too long, rejected content): that prompt gets empty replies; when every prompt
  of a call (two or more) is refused, the call raises `BackendFailed` (a config error such as max_tokens).
- Each prompt carries its own seed (`Sampling.seeds`), so replies do not depend on the batch a prompt is in.
- 401/403/404 are configuration errors (key, URL, model name): raised at once, naming the setting.
- Endpoints that return fewer than `n` choices (some hosted APIs ignore `n`) are asked again for the rest.
- A prompt with a reply format (`Sampling.regexes`) sends it in the field `regex_field` names: vLLM's server
  (>= 0.10.2) reads `"structured_outputs": {"regex": ...}`, older ones `"guided_regex"`; hosted APIs have no regex
  constraint (their `response_format` takes JSON schemas only), so `regex_field=null` sends nothing.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from factory.llm.base import Messages, Sampling, raise_if_all_failed

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
PROMPT_STATUS = {400, 413, 422}
MAX_BACKOFF_S = 30.0
REGEX_FIELDS = ("structured_outputs", "guided_regex", None)


class PromptRejected(Exception):
    """The endpoint refused this one prompt; its replies become empty strings."""


class OpenAIChat:
    def __init__(self, base_url: str, model: str, *, api_key_env: str | None = "OPENAI_API_KEY",
                 max_concurrency: int = 8, max_retries: int = 5, timeout: float = 120, backoff_s: float = 1.0,
                 regex_field: str | None = "structured_outputs"):
        if regex_field not in REGEX_FIELDS:
            raise ValueError(f"llm.regex_field={regex_field!r} is not one of {', '.join(map(str, REGEX_FIELDS))}")
        self.regex_field = regex_field
        if not base_url:
            raise ValueError("llm.base_url is empty: set it to the endpoint, e.g. http://127.0.0.1:8000/v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.tokens_out = 0   # completion tokens the endpoint reports (`usage`), all calls
        self._count_lock = threading.Lock()
        self.headers = {"Content-Type": "application/json"}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ValueError(f"llm.api_key_env={api_key_env!r} but ${api_key_env} is not set "
                                 "(set llm.api_key_env=null for an endpoint without a key)")
            self.headers["Authorization"] = f"Bearer {key}"
        self.max_concurrency = max(1, int(max_concurrency))
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.backoff_s = backoff_s

    def generate(self, prompts: list[Messages], sampling: Sampling) -> list[list[str]]:
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, max(1, len(prompts)))) as pool:
            results = list(pool.map(lambda i: self._replies(prompts[i], sampling, sampling.seed_of(i),
                                                            sampling.regex_of(i)), range(len(prompts))))
        errors = [err for _, err in results if err is not None]
        raise_if_all_failed("openai", len(errors), len(prompts), errors[-1] if errors else None)
        return [replies for replies, _ in results]

    def _replies(self, messages: Messages, sampling: Sampling, seed: int | None,
                 regex: str | None = None) -> tuple[list[str], Exception | None]:
        """(n replies, None), or (n empty replies, the error) when the endpoint refused this prompt."""
        replies: list[str] = []
        try:
            while len(replies) < sampling.n:
                got = self._complete(messages, sampling, sampling.n - len(replies), seed, regex)
                if not got:
                    break
                replies += got
        except PromptRejected as err:
            log.warning("endpoint rejected one prompt: %s", err)
            return [""] * sampling.n, err
        return (replies + [""] * sampling.n)[:sampling.n], None

    def _complete(self, messages: Messages, sampling: Sampling, n: int, seed: int | None,
                  regex: str | None = None) -> list[str]:
        body = {"model": self.model, "messages": messages, "n": n, "temperature": sampling.temperature,
                "top_p": sampling.top_p, "max_tokens": sampling.max_tokens}
        if seed is not None:
            body["seed"] = seed
        if regex is not None and self.regex_field == "structured_outputs":
            body["structured_outputs"] = {"regex": regex}
        elif regex is not None and self.regex_field == "guided_regex":
            body["guided_regex"] = regex
        reply = self._post(json.dumps(body).encode())
        usage = reply.get("usage") if isinstance(reply, dict) else None
        with self._count_lock:   # requests run on a thread pool
            self.tokens_out += int((usage or {}).get("completion_tokens") or 0)
        try:
            return [choice["message"]["content"] or "" for choice in reply["choices"]]
        except (KeyError, TypeError) as err:
            raise PromptRejected(f"malformed reply from {self.url}: missing {err}") from None

    def _post(self, data: bytes) -> dict:
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=self.headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                detail = err.read()[:300].decode(errors="replace")
                if err.code in PROMPT_STATUS:
                    raise PromptRejected(f"HTTP {err.code}: {detail}") from None
                if err.code not in RETRY_STATUS:
                    raise RuntimeError(f"{self.url} answered HTTP {err.code} (check llm.base_url, llm.model, "
                                       f"llm.api_key_env): {detail}") from None
                error, wait = f"HTTP {err.code}", _retry_after(err.headers.get("Retry-After"))
            except (urllib.error.URLError, socket.timeout, ConnectionError, json.JSONDecodeError) as err:
                error, wait = repr(err), None
            if attempt == self.max_retries:
                raise RuntimeError(f"{self.url}: giving up after {self.max_retries + 1} attempts, last: {error}")
            # Full jitter: replicas that were throttled together must not all come back at the same instant.
            delay = wait if wait is not None else random.uniform(0, self.backoff_s * 2 ** attempt)
            log.info("%s: %s, retry %d in %.2fs", self.url, error, attempt + 1, delay)
            time.sleep(min(delay, MAX_BACKOFF_S))
        raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare from these servers, fall back to our own backoff
        return None
