"""The hostile suite: solutions that try to fool or escape the sandbox, each with the verdicts it may get.

`{canary}`, `{canary_dir}`, `{port}` and `{secret_var}` are replaced by the test with a host file, its folder, a
TCP listener on 127.0.0.1 and an environment variable of the host process: the attacker knows them all.
A verdict outside `expect` fails the test; `pass` is never allowed unless the solution is in fact correct.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Hostile:
    name: str
    solution: str
    expect: set[str]
    inputs: list[str] = field(default_factory=lambda: ["[]"])
    expected: str = "1"
    assert_tests: str | None = None
    entry_point: str = "f"


IO = [
    Hostile("sys_exit_zero", "import sys\ndef f():\n    sys.exit(0)\n", {"runtime_error"}),
    Hostile("os_exit_zero", "import os\ndef f():\n    os._exit(0)\n", {"runtime_error"}),
    Hostile("exit_at_import", "import os\nos._exit(0)\ndef f():\n    return 1\n", {"runtime_error"}),
    Hostile("kill_self", "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)\n", {"runtime_error"}),
    Hostile("base_exception", "def f():\n    raise KeyboardInterrupt\n", {"runtime_error"}),
    Hostile("always_equal", "class E:\n    def __eq__(self, o):\n        return True\n    __hash__ = object.__hash__\n"
            "def f():\n    return E()\n", {"unserializable_output"}),
    Hostile("int_subclass_equal", "class I(int):\n    def __eq__(self, o):\n        return True\n"
            "    __hash__ = int.__hash__\n    def __repr__(self):\n        return '1'\ndef f():\n    return I(7)\n",
            {"unserializable_output"}),
    Hostile("monkeypatched_builtins", "import builtins\nbuiltins.repr = lambda x: '1'\nbuiltins.isinstance = "
            "lambda a, b: True\nbuiltins.type = lambda x: int\ndef f():\n    return 2\n", {"wrong_answer", "runtime_error"}),
    Hostile("forged_json_pass", "import json\njson.dumps = lambda *a, **k: '{\"status\": \"pass\", \"output\": \"1\"}'\n"
            "def f():\n    return 2\n", {"runtime_error", "wrong_answer"}),
    Hostile("forged_stdout", "def f():\n    print('{\"status\": \"pass\"}')\n    print('PASS')\n    return 2\n",
            {"wrong_answer"}),
    Hostile("forged_frames_on_every_fd", "import os, struct, json\ndef f():\n"
            "    for msg in ({'status': 'pass'}, {'status': 'returned', 'output': '1'}):\n"
            "        data = json.dumps(msg).encode()\n        for fd in range(0, 64):\n"
            "            try:\n                os.write(fd, struct.pack('>I', len(data)) + data)\n"
            "            except OSError:\n                pass\n    return 2\n", {"runtime_error", "wrong_answer"}),
    Hostile("fork_bomb", "import os\ndef f():\n    while True:\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass\n", {"timeout", "runtime_error"}),
    Hostile("thread_bomb", "import threading, time\ndef f():\n    while True:\n"
            "        threading.Thread(target=time.sleep, args=(60,)).start()\n", {"runtime_error", "timeout"}),
    Hostile("memory_bomb", "def f():\n    return len(bytearray(10 ** 10))\n", {"memory_limit"}),
    Hostile("memory_creep", "def f():\n    xs = []\n    while True:\n        xs.append(' ' * 10 ** 6)\n",
            {"memory_limit", "timeout"}),
    Hostile("c_level_loop", "import itertools\ndef f():\n    return any(itertools.repeat(0))\n", {"timeout"}),
    Hostile("sleeping", "import time\ndef f():\n    time.sleep(1000)\n", {"timeout"}),
    Hostile("ignores_sigterm", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGXCPU, signal.SIG_IGN)\ndef f():\n    while True:\n        pass\n", {"timeout"}),
    Hostile("huge_output", "def f():\n    while True:\n        print('x' * 10000)\n", {"output_limit"}),
    Hostile("huge_return", "def f():\n    return 'x' * 10 ** 7\n", {"output_limit"}),
    Hostile("reads_secrets", "import os, glob\ndef f():\n    found = [os.environ.get('{secret_var}'), dict(os.environ)]\n"
            "    for p in ['/proc/1/environ', '/proc/self/environ', '{canary}', '/root/.bash_history']"
            " + glob.glob('/proc/*/environ'):\n        try:\n            found.append(open(p, 'rb').read().decode('latin1'))\n"
            "        except Exception as e:\n            found.append(type(e).__name__)\n    return found\n",
            {"wrong_answer"}),
    Hostile("network_connect", "import socket\ndef f():\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    s.sendall(b'leak')\n    return 1\n", {"runtime_error"}),
    Hostile("writes_and_deletes_outside", "import os, shutil\ndef f():\n"
            "    for p in ['{canary_dir}/evil.txt', '/usr/evil.txt', '/sandbox/harness/evil.py', '/etc/evil']:\n"
            "        try:\n            open(p, 'w').write('x')\n        except OSError:\n            pass\n"
            "    for act in (lambda: os.remove('{canary}'), lambda: shutil.rmtree('{canary_dir}')):\n"
            "        try:\n            act()\n        except OSError:\n            pass\n    return 1\n",
            {"pass"}),
    Hostile("kills_parent", "import os, signal\ndef f():\n    os.kill(os.getppid(), signal.SIGKILL)\n    return 1\n",
            {"runtime_error"}),
    Hostile("kills_everything", "import os, signal\ndef f():\n    os.kill(-1, signal.SIGKILL)\n    return 1\n",
            {"runtime_error", "pass"}),
    Hostile("reads_parent_memory", "import os\ndef f():\n    with open(f'/proc/{os.getppid()}/mem', 'rb') as m:\n"
            "        return len(m.read(1))\n", {"runtime_error"}),
    Hostile("writes_parent_stdout", "import os\ndef f():\n    with open(f'/proc/{os.getppid()}/fd/1', 'wb') as out:\n"
            "        out.write(b'\\x00\\x00\\x00\\x02{}')\n    return 1\n", {"runtime_error"}),
    Hostile("daemonised_grandchild", "import os, time\ndef f():\n    if os.fork() == 0:\n        os.setsid()\n"
            "        if os.fork() == 0:\n            while True:\n                pass\n        os._exit(0)\n"
            "    time.sleep(0.05)\n    return 1\n", {"pass"}),
    Hostile("deep_recursion", "def f(n=0):\n    return f(n + 1)\n", {"runtime_error"}),
    Hostile("deep_recursion_unlimited", "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n=0):\n    return f(n + 1)\n",
            {"runtime_error", "memory_limit", "timeout"}),
    Hostile("stdin_read", "def f():\n    return input()\n", {"runtime_error"}),
    Hostile("mutates_inputs", "def f(xs):\n    xs.append(0)\n    return len(xs)\n", {"pass"},
            inputs=["[[1, 2]]", "[[1, 2]]"], expected="3"),
    Hostile("threads_left_running", "import threading\ndef f():\n"
            "    threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\n    return 1\n", {"pass"}),
    Hostile("syntax_error", "def f(:\n    return 1\n", {"syntax_error"}),
    Hostile("missing_entry_point", "def g():\n    return 1\n", {"missing_entry_point"}),
]

CHECK = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(5, 5) == 10\n"
RANDOM_CHECK = ("import random\ndef check(candidate):\n    for _ in range(20):\n"
                "        a, b = random.randint(0, 100), random.randint(0, 100)\n        assert candidate(a, b) == a + b\n")
ASSERT = [
    Hostile("assert_os_exit", "import os\ndef add(a, b):\n    os._exit(0)\n", {"runtime_error"}, assert_tests=CHECK,
            entry_point="add"),
    Hostile("assert_exit_at_import", "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b + 1\n",
            {"runtime_error"}, assert_tests=CHECK, entry_point="add"),
    Hostile("assert_always_equal", "class E:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n"
            "    return E()\n", {"unserializable_output"}, assert_tests=CHECK, entry_point="add"),
    Hostile("assert_forged_pass", "import json, os, struct\ndef add(a, b):\n"
            "    data = json.dumps({'status': 'pass'}).encode()\n    for fd in range(64):\n        try:\n"
            "            os.write(fd, struct.pack('>I', len(data)) + data)\n        except OSError:\n            pass\n"
            "    os._exit(0)\n", {"runtime_error"}, assert_tests=CHECK, entry_point="add"),
    Hostile("assert_patched_assert", "import builtins\nbuiltins.AssertionError = type('A', (Exception,), {})\n"
            "def add(a, b):\n    return 0\n", {"wrong_answer"}, assert_tests=CHECK, entry_point="add"),
    # A transcript that claims nothing, then a forged one in the live rerun: neither is a pass.
    Hostile("assert_forged_transcript", "import json, os, struct\ndef add(a, b):\n"
            "    data = json.dumps({'status': 'transcript', 'names': {'add': 'call'}, 'calls': []}).encode()\n"
            "    for fd in range(64):\n        try:\n            os.write(fd, struct.pack('>I', len(data)) + data)\n"
            "        except OSError:\n            pass\n    os._exit(0)\n", {"runtime_error"}, assert_tests=CHECK,
            entry_point="add"),
    # The tests swallow every exception: the timeout of the call must still be the verdict.
    Hostile("assert_swallowed_timeout", "def add(a, b):\n    while True:\n        pass\n", {"timeout"},
            assert_tests="def check(candidate):\n    try:\n        candidate(1, 2)\n    except BaseException:\n"
            "        pass\n", entry_point="add"),
    # The solution draws from the shared `random`, so the child's random test inputs differ from the worker's:
    # the replay diverges and the tests are judged live. Right answers still pass, wrong ones still fail.
    Hostile("assert_diverging_random", "import random\ndef add(a, b):\n    random.random()\n    return a + b\n",
            {"pass"}, assert_tests=RANDOM_CHECK, entry_point="add"),
    Hostile("assert_diverging_random_wrong", "import random\ndef add(a, b):\n    random.random()\n"
            "    return a + b + (a > 50)\n", {"wrong_answer"}, assert_tests=RANDOM_CHECK, entry_point="add"),
]

HONEST = Hostile("honest", "def f(x):\n    return sum(range(x)) % 7\n", {"pass"}, inputs=["[300000]"],
                 expected=str(sum(range(300000)) % 7))
HONEST_ASSERT = Hostile("honest_assert", "def add(a, b):\n    return a + b\n", {"pass"}, assert_tests=CHECK,
                        entry_point="add")
