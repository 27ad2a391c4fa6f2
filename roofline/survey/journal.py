"""The journal: finished rows, one JSON line each, keyed; what lets a survey resume.

A key names a task and everything of the job behind its row (spec, inputs, options,
device numbers, the code's version), so one file can hold the rows of several surveys.
Rows are appended one line per write, so an interruption cuts at most one line, which
reading skips. Reading checks only the shape of a line (a JSON object with a key and a
row); whether a row can be believed for a task is the runner's test
(:func:`roofline.survey.rows.valid_row`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roofline.cache import cache_dir
from roofline.errors import OutputError

__all__ = ["Journal", "default_journal"]


class Journal:
    """Finished rows, one JSON line each, keyed; the resume and repeat record of a survey."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, dict[str, Any]]:
        """key -> row (the last line of a key wins); a line that is not a JSON object with a
        string ``key`` and an object ``row`` (a write cut short, a tampered line) is skipped."""
        rows: dict[str, dict[str, Any]] = {}
        try:
            with self.path.open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if (isinstance(entry, dict) and isinstance(entry.get("key"), str)
                            and isinstance(entry.get("row"), dict)):
                        rows[entry["key"]] = entry["row"]
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"cannot read survey journal {self.path}: {e.strerror or e}") from e
        return rows

    def rewrite(self, rows: dict[str, dict[str, Any]]) -> None:
        """Replace the journal with exactly these rows, atomically (a temp file beside it,
        renamed over it, keeping its mode). A journal that is not a regular file (a FIFO,
        /dev/null) is never replaced: it is left as it is. Raises OSError."""
        if self.path.exists() and not stat.S_ISREG(os.stat(self.path).st_mode):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mode = (stat.S_IMODE(os.stat(self.path).st_mode) if self.path.exists()
                else 0o666 & ~_umask())
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for k, row in rows.items():
                    f.write(_json_line(k, row))
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def append(self, key: str, row: dict[str, Any]) -> None:
        """Add one row: one write of one line, at the end of the file even when several
        surveys append to it at once. Raises OSError (a full disk, a read-only directory)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = _json_line(key, row).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"only {written} of {len(data)} bytes written")
        finally:
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_line(key: str, row: dict[str, Any]) -> str:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in row.items()}
    return json.dumps({"key": key, "row": clean}, separators=(",", ":")) + "\n"


def default_journal(labels: Sequence[str], job_fingerprint: str) -> Path:
    """The journal of a survey when none is named: in the cache directory (never beside
    the output), under a name that depends on the tasks and the job, so that repeating a
    survey finds its rows."""
    h = hashlib.sha256(json.dumps([list(labels), job_fingerprint]).encode()).hexdigest()[:16]
    return cache_dir() / "surveys" / f"{h}.jsonl"
