"""Reading a problem statement's example calls: their inputs (tests stage) and stated outputs (verify.examples)."""

from __future__ import annotations

from factory.verify.examples import example_calls, example_inputs, stated_outputs
from tests.verify import humaneval as he

SYNTHETIC = '''Write a function `add_pair(a, b)` that adds two numbers.

```python
def add_pair(a, b):
    return a + b
```

Example: add_pair(1, 2) -> 3
For instance, add_pair(a=10, b=-4) should return 6.
assert add_pair([1], [2]) == [1, 2]
>>> add_pair("x)", 'y')
'x)y'
>>> add_pair(0,
...          0)
0
add_pair(n - 1, 2) is a recursive call, not an example; add_pair(7, 7) is 14.
'''


def test_example_inputs_from_every_form_a_statement_uses():
    # the `def` line is the signature; a call with a non-literal argument is no example; a ')' inside a
    # string does not end the call; a doctest call split over two lines is one call
    assert example_inputs(SYNTHETIC, "add_pair", ["a", "b"]) == [
        "[1, 2]", "[10, -4]", "[[1], [2]]", "['x)', 'y']", "[0, 0]", "[7, 7]"]
    assert [c for c, _, _ in example_calls("def f(x):\n    return f(x - 1)\nf(3)", "f")] == ["f(x - 1)", "f(3)"]
    assert example_inputs("see the function f(x) in prose; also g(1)", "f", ["x"]) == []


def test_stated_outputs_after_arrows_words_and_doctest_lines():
    assert stated_outputs(SYNTHETIC, "add_pair", ["a", "b"]) == {
        "[1, 2]": "3", "[10, -4]": "6", "[[1], [2]]": "[1, 2]", "['x)', 'y']": "'x)y'", "[0, 0]": "0",
        "[7, 7]": "14"}
    # a statement that gives one input two outputs states nothing about it
    assert stated_outputs("f(1) == 2\nf(1) == 3\nf(2) == 4", "f", ["x"]) == {"[2]": "4"}


def test_humaneval_docstrings():
    p = he.problems()["HumanEval/31"]   # is_prime: seven doctests, each output on the next line
    stated = stated_outputs(p["prompt"], p["entry_point"], ["n"])
    assert stated == {"[6]": "False", "[101]": "True", "[11]": "True", "[13441]": "True", "[61]": "True",
                      "[4]": "False", "[1]": "False"}
    p = he.problems()["HumanEval/12"]   # longest([]) returns None: the doctest shows no output line
    assert "[[]]" in example_inputs(p["prompt"], p["entry_point"], ["strings"])
    assert "[[]]" not in stated_outputs(p["prompt"], p["entry_point"], ["strings"])
