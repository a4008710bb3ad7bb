"""Stdlib seeds with `seeds.computing=true`: only top-level functions that take arguments and return a value."""

import ast

from factory.config import load_config
from factory.stages.seeds import collect_seeds, computes


def test_computing_seeds_take_arguments_and_return_a_value():
    rows = collect_seeds(load_config([]).seeds, 24, 0).to_pylist()
    assert len(rows) == 24
    for row in rows:
        fn = ast.parse(row["seed"]).body[0]
        assert isinstance(fn, ast.FunctionDef) and computes(fn, top_level=True), row["origin"]
    everything = collect_seeds(load_config(["seeds.computing=false"]).seeds, 24, 0).to_pylist()
    assert {r["origin"] for r in everything} != {r["origin"] for r in rows}


def test_what_does_not_compute():
    def fn(src):
        return ast.parse(src).body[0]
    assert computes(fn("def f(x):\n    return x + 1"), True)
    assert not computes(fn("def f(x):\n    return x + 1"), False)           # a method or a nested function
    assert not computes(fn("def f(self, x):\n    return x"), True)
    assert not computes(fn("def f():\n    return 1"), True)                 # no arguments
    assert not computes(fn("def f(x):\n    log(x)"), True)                  # no return value
    assert not computes(fn("def f(x):\n    return None"), True)
    assert not computes(fn("def f(x):\n    yield x"), True)
    assert not computes(fn("@cache\ndef f(x):\n    return x"), True)
