"""MinHash LSH in plain numpy: the pure functions behind the dedup plan, shared by the Ray and local paths.

A problem becomes a few *keys*: one exact key (a hash of its normalised text) and one key per LSH band (a hash
of that band's slice of the MinHash signature). Rows sharing a key land in one bucket; `bucket_edges` turns a
bucket into edges "member -> the bucket's smallest id", confirmed by the estimated Jaccard for band buckets;
`resolve` runs union-find over all edges and picks, per cluster, the kept row and each other row's reason.

Why our own numpy MinHash and not datasketch's objects: one `MinHash` per row costs a Python object and a
sha1 call per shingle; here a whole batch of rows is one (shingles x num_perm) matrix and a `minimum.reduceat`
(100k rows, benchmarks/dedup.py: 11.5 CPU s for the whole in-process plan, datasketch's MinHashLSH 19 s).
Hashes are deterministic (crc32, blake2b, fixed seeds), never Python's salted `hash()`, because keys computed on
different Ray workers must agree.

Limits: clusters are transitive (A~B and B~C puts A and C together even when A and C differ more); a pair is
only confirmed against the bucket's smallest id, so a member similar to another non-smallest member of the same
bucket is found only through another band where they meet the smallest. Ids are compared as strings; ids
starting with "bench:" (benchmark problems) sort first so they are always the kept side.
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np

BENCH_PREFIX = "bench:"
_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase, strip punctuation, collapse whitespace: what two copies of one problem still share."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def exact_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(normalize(text).encode(), digest_size=8).digest(), "little")


def shingles(text: str, size: int) -> list[str]:
    """Word `size`-grams of the normalised text; a shorter text is one shingle, an empty one the empty string."""
    words = normalize(text).split()
    if len(words) <= size:
        return [" ".join(words)]
    return [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the multiply-shift family h(x) = ((a*x + b) mod 2^64) >> 32, a odd: 32-bit hashes of 32-bit
    shingle hashes with no modulo (wrapping uint64 arithmetic is the mod); 6x faster here than (a*x+b) mod p."""
    rng = np.random.RandomState(seed)
    a = rng.randint(1, 1 << 63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.randint(0, 1 << 63, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(texts: list[str], shingle_size: int, perms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """MinHash signatures, (len(texts), num_perm) uint32, for a batch of texts at once."""
    a, b = perms
    hashed = [[zlib.crc32(s.encode()) for s in shingles(t, shingle_size)] for t in texts]
    out = np.empty((len(texts), len(a)), dtype=np.uint32)
    # Rows go in chunks of ~2^16 matrix cells (512 KB): small enough to stay in cache, measured 4x faster than
    # chunks of 2^22 cells.
    budget, lo = max(1, (1 << 16) // len(a)), 0
    while lo < len(texts):
        hi, total = lo + 1, len(hashed[lo])
        while hi < len(texts) and total + len(hashed[hi]) <= budget:
            total += len(hashed[hi])
            hi += 1
        hv = np.fromiter((h for row in hashed[lo:hi] for h in row), dtype=np.uint64, count=total)
        with np.errstate(over="ignore"):
            phv = (hv[:, None] * a + b) >> np.uint64(32)
        offsets = np.cumsum([0] + [len(h) for h in hashed[lo : hi - 1]])
        out[lo:hi] = np.minimum.reduceat(phv, offsets, axis=0)
        lo = hi
    return out


def band_keys(sigs: np.ndarray, bands: int) -> np.ndarray:
    """(n, bands) uint64 keys: an FNV-style hash of each band's slice, seeded with the band index."""
    rows = sigs.shape[1] // bands
    keys = np.empty((sigs.shape[0], bands), dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):  # wrapping multiplication is the point of the hash
        for band in range(bands):
            h = np.full(sigs.shape[0], 0xCBF29CE484222325 ^ band, dtype=np.uint64)
            for col in sigs[:, band * rows : (band + 1) * rows].T:
                h = (h ^ col.astype(np.uint64)) * prime
            keys[:, band] = h
    return keys


def key_rows(ids: list[str], texts: list[str], shingle_size: int, bands: int,
             perms: tuple[np.ndarray, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One row per (problem, key): `bands` band keys plus the exact key, each with the id and the row index of
    its signature; and the (len(texts), num_perm) low-byte signatures. They are not repeated per key here:
    only the Ray path, whose buckets meet on other workers, needs a copy on every key row."""
    sigs = signatures(texts, shingle_size, perms)
    keys_of_bands = band_keys(sigs, bands)
    exact_col = np.fromiter((exact_key(t) for t in texts), dtype=np.uint64, count=len(texts))
    keys = np.concatenate([keys_of_bands, exact_col[:, None]], axis=1)
    per = bands + 1
    rows = {
        "key": keys.reshape(-1),
        "exact": np.tile(np.arange(per) == bands, len(ids)),
        "id": np.repeat(np.asarray(ids, dtype=object), per),
        "row": np.repeat(np.arange(len(ids), dtype=np.int64), per),
    }
    return rows, low_bits(sigs)


def low_bits(sigs: np.ndarray) -> np.ndarray:
    """b-bit minwise hashing (Li and Koenig, b=8): the low byte of each value is enough to estimate Jaccard
    (see `jaccard`) and is 4x smaller on every key row the Ray shuffle moves. Band keys use the full values."""
    return (sigs & 0xFF).astype(np.uint8)


def jaccard(x: np.ndarray, y: np.ndarray) -> float:
    """Jaccard estimate from two low-byte signatures: unequal values still agree by chance 1/256 of the time."""
    return max(0.0, (float(np.mean(x == y)) - 1 / 256) / (1 - 1 / 256))


def rank(pid: str) -> tuple[int, str]:
    """Sort order of ids: benchmark problems first, then by id."""
    return (0 if pid.startswith(BENCH_PREFIX) else 1, pid)


def bucket_edges(keys: np.ndarray, exact: np.ndarray, ids: np.ndarray, rows: np.ndarray, sigs: np.ndarray,
                 threshold: float) -> dict[str, list]:
    """Edges of every bucket with two or more key rows: member -> smallest id, kind "exact" or "near".

    Key row i has id ids[i] and signature sigs[rows[i]]."""
    out = {"a": [], "b": [], "kind": [], "jaccard": []}
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1]):
        members = order[start : start + size]
        root = min(members, key=lambda i: rank(ids[i]))
        for m in members:
            if ids[m] == ids[root]:
                continue
            j = 1.0 if exact[m] else jaccard(sigs[rows[m]], sigs[rows[root]])
            if exact[m] or j >= threshold:
                out["a"].append(ids[m])
                out["b"].append(ids[root])
                out["kind"].append("exact" if exact[m] else "near")
                out["jaccard"].append(j)
    return out


class _UnionFind:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression keeps later finds O(1)
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb), key=rank)
            self.parent[hi] = lo  # the root is always the smallest id: the kept row of the cluster


def resolve(edges_a, edges_b, kinds) -> dict[str, tuple[str, str]]:
    """Union-find over the edges: {dropped_id: (reason, kept_id or benchmark task_id)}; benchmark rows never drop."""
    every, exact = _UnionFind(), _UnionFind()
    for a, b, kind in zip(edges_a, edges_b, kinds):
        every.union(a, b)
        if kind == "exact":
            exact.union(a, b)
    plan = {}
    for node in list(every.parent):
        kept = every.find(node)
        if node == kept or node.startswith(BENCH_PREFIX):
            continue
        if kept.startswith(BENCH_PREFIX):
            plan[node] = ("contaminated", kept.removeprefix(BENCH_PREFIX))
        elif exact.find(node) == exact.find(kept):
            plan[node] = ("exact_duplicate", kept)
        else:
            plan[node] = ("near_duplicate", kept)
    return plan
