"""A trace cache entry is believed only when it is exactly what the toolkit wrote: anything
else (truncated, another shape of JSON, edited counts, a dropped op) is a miss, removed and
rebuilt. A cache that cannot be cleared says so in one line."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from roofline import cache
from roofline.cli import main
from roofline.graph.records import OpRecord, Ref, Trace


def small_trace() -> Trace:
    x = Ref(1, (1, 3, 8, 8), "float32", 192)
    w = Ref(2, (4, 3, 3, 3), "float32", 108, weight=True, params=(0,))
    y = Ref(3, (1, 4, 8, 8), "float32", 256)
    z = Ref(4, (1, 4, 8, 8), "float32", 256)
    ops = [OpRecord(0, "convolution", "conv2d", "compute", "stem", "Conv2d", 6912, (x, w), (y,)),
           OpRecord(1, "relu", "activation", "compute", "act", "ReLU", 0, (y,), (z,))]
    return Trace("Tiny", (x,), (z,), ops, [("stem.weight", 108)])


@pytest.fixture()
def entry(tmp_path: Path, monkeypatch) -> tuple[str, Path]:
    monkeypatch.setenv("ROOFLINE_CACHE_DIR", str(tmp_path))
    k = "k" * 40
    cache.store(k, small_trace(), {"label": "tiny"})
    path = tmp_path / f"{k}.json.gz"
    assert cache.load(k) is not None
    return k, path


def rewrite(path: Path, change) -> None:
    with gzip.open(path, "rt") as f:
        entry = json.load(f)
    entry = change(entry)
    with gzip.open(path, "wt") as f:
        json.dump(entry, f)


def edit_body(fn, redigest: bool):
    def change(entry):
        body = json.loads(entry["body"])
        fn(body)
        entry["body"] = json.dumps(body)
        if redigest:
            import hashlib

            entry["digest"] = hashlib.sha256(entry["body"].encode()).hexdigest()
        return entry
    return change


def negative_macs(body):
    body["trace"]["ops"][0]["macs"] = -6912


def dropped_stem(body):
    del body["trace"]["ops"][0]


def string_macs(body):
    body["trace"]["ops"][0]["macs"] = "6912"


def negative_shape(body):
    body["trace"]["ops"][0]["inputs"][0]["shape"] = [1, -3, 8, 8]


def float_param(body):
    body["trace"]["params"][0][1] = 1.5


TAMPERS = {
    "a list instead of an object": lambda e: [e],
    "a number": lambda e: 42,
    "body is not a string": lambda e: {**e, "body": {"trace": 1}},
    "no digest": lambda e: {k: v for k, v in e.items() if k != "digest"},
    "another key": lambda e: {**e, "key": "x" * 40},
    "another format": lambda e: {**e, "format": 1},
    "negative MACs, digest kept": edit_body(negative_macs, False),
    "dropped stem conv, digest kept": edit_body(dropped_stem, False),
    "negative MACs, digest recomputed": edit_body(negative_macs, True),
    "MACs as a string, digest recomputed": edit_body(string_macs, True),
    "negative dimension, digest recomputed": edit_body(negative_shape, True),
    "fractional parameter count, digest recomputed": edit_body(float_param, True),
    "trace of the wrong shape, digest recomputed": edit_body(lambda b: b.update(trace=[1, 2]), True),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampered_entry_is_a_miss_and_removed(entry, case: str):
    k, path = entry
    rewrite(path, TAMPERS[case])
    assert cache.load(k) is None
    assert not path.exists()


@pytest.mark.parametrize("raw", [b"", b"\x1f\x8b", b"not gzip", gzip.compress(b"{not json")])
def test_corrupt_bytes_are_a_miss(entry, raw: bytes):
    k, path = entry
    path.write_bytes(raw)
    assert cache.load(k) is None and not path.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_clear_on_a_read_only_cache_is_one_line(entry):
    _, path = entry
    path.parent.chmod(0o555)
    try:
        r = CliRunner().invoke(main, ["cache", "clear"])
    finally:
        path.parent.chmod(0o755)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "could not remove" in r.stderr


def test_clear_when_unlink_fails_is_one_line(entry, monkeypatch):
    def refuse(self, missing_ok=False):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refuse)
    r = CliRunner().invoke(main, ["cache", "clear"])
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "could not remove 1 of 1 files" in r.stderr
    assert "Traceback" not in r.output
