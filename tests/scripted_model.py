"""A scripted "competent model" served over the OpenAI chat API, for end-to-end tests of the whole pipeline.

No model that runs here writes working code (SmolLM2 solves ~0 problems), so to exercise executions, voting and
verification on real agreement the tests serve replies from a small bank of real problems with reference
solutions. Replies are computed, not canned: expected outputs come from running the reference on the inputs the
"model" proposed; some samples are deliberately wrong (a buggy solution, a wrong output) so rejected data exists.
Everything downstream of the HTTP call (the openai backend, parsing, sandbox, vote, rules) is the real code.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BANK = [
    dict(name="sum_even", problem="Write a function that returns the sum of the even numbers in a list of integers.",
         params="nums: list[int]", doc="nums: the integers to add up.", ret="int",
         good="    return sum(x for x in nums if x % 2 == 0)",
         bad="    return sum(x for x in nums if x % 2 == 1)",
         inputs=["[[1, 2, 3, 4]]", "[[]]", "[[-2, -3, 10]]", "[[7]]"]),
    dict(name="count_vowels", problem="Write a function that counts the vowels (a, e, i, o, u, any case) in a string.",
         params="text: str", doc="text: the string to scan.", ret="int",
         good="    return sum(ch in 'aeiouAEIOU' for ch in text)",
         bad="    return sum(ch in 'aeiou' for ch in text)",
         inputs=["['hello']", "['']", "['AEIOU xyz']", "['rhythm']"]),
    dict(name="max_gap", problem="Write a function that returns the largest difference between two consecutive "
                                 "numbers of a list, or 0 when the list has fewer than two numbers.",
         params="nums: list[int]", doc="nums: the numbers, in order.", ret="int",
         good="    return max((abs(b - a) for a, b in zip(nums, nums[1:])), default=0)",
         bad="    return max(nums) - min(nums) if nums else 0",
         inputs=["[[1, 5, 2]]", "[[]]", "[[3]]", "[[10, 0, 10, 0]]"]),
    dict(name="reverse_words", problem="Write a function that reverses the order of the words in a sentence, "
                                       "words being separated by single spaces.",
         params="sentence: str", doc="sentence: words separated by single spaces.", ret="str",
         good="    return ' '.join(sentence.split(' ')[::-1])",
         bad="    return sentence[::-1]",
         inputs=["['a b c']", "['']", "['one']", "['hello big world']"]),
]
GARBAGE = "I am not sure what you mean."   # the reply to signature prompts of problems tagged GARBAGE


def _bank_for(text: str) -> dict | None:
    return next((b for b in BANK if b["problem"] in text or f"def {b['name']}(" in text), None)


def _reference(b: dict):
    scope: dict = {}
    exec(f"def {b['name']}({b['params']}):\n{b['good']}", scope)
    return scope[b["name"]]


def reply(prompt: str, index: int) -> str:
    """The `index`-th sample for this prompt."""
    if "Write one new" in prompt:
        seed = re.search(r"```python\n(.*?)```", prompt, re.S).group(1)
        k = sum(map(ord, seed)) % (len(BANK) + 1)
        return "GARBAGE: tell me a long story about parsing things in general, please." if k == len(BANK) else BANK[k]["problem"]
    if "GARBAGE" in prompt:
        return GARBAGE
    b = _bank_for(prompt)
    if b is None:
        return GARBAGE
    if "Write only the starter code" in prompt:
        return (f"```python\ndef {b['name']}({b['params']}) -> {b['ret']}:\n    \"\"\"{b['problem']}\n\n"
                f"    {b['doc']}\n    \"\"\"\n    ...\n```")
    if "Solve the problem" in prompt:
        body = b["bad"] if index % 4 == 3 else b["good"]
        if index % 4 == 2:
            return "Sorry, I cannot write code today."
        return f"Here it is:\n```python\ndef {b['name']}({b['params']}):\n    # reasoning: direct formula\n{body}\n```"
    if "test inputs" in prompt:
        return "```python\n" + "\n".join(f"{i}  # {k}" for i, k in zip(b["inputs"], ["general", "corner", "corner",
                                                                                     "difficult"])) + "\n```"
    m = re.search(r"What does `(.*?)` return\?", prompt, re.S)
    if m:
        call = ast.parse(m.group(1), mode="eval").body
        args = [ast.literal_eval(a) for a in call.args]
        value = _reference(b)(*args)
        if index % 4 == 3:
            value = "wrong"
        return f"Let me think step by step.\nOutput: {value!r}"
    return GARBAGE


class ScriptedServer:
    """OpenAI-compatible /v1/chat/completions on 127.0.0.1, replying with `reply` (or `reply_fn(prompt, index)`)."""

    def __init__(self, reply_fn=None):
        answer = reply_fn or reply
        self.prompts: list[str] = []
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                n = int(body.get("n") or 1)
                with server.lock:
                    start = server.counts[prompt]
                    server.counts[prompt] += n
                    server.requests += 1
                    server.prompts.append(prompt)
                choices = [{"index": i, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": answer(prompt, start + i)}} for i in range(n)]
                # usage as real servers report it (a word stands for a token here)
                usage = {"completion_tokens": sum(len(c["message"]["content"].split()) for c in choices)}
                data = json.dumps({"id": "x", "object": "chat.completion", "choices": choices,
                                   "usage": usage}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
