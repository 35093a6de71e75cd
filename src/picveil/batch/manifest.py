"""The batch manifest: one SQLite row per input file, written by the parent only.

Why SQLite rather than JSON Lines: a rerun must look up, for every input,
whether it is already done, and a library may hold millions of photos. A
JSON Lines file would have to be read whole into a dictionary first (memory
growing with the library) and would grow by one line per file per run;
SQLite answers each look-up from its primary-key index with constant memory,
keeps exactly one row per file (the latest outcome), and commits in
transactions, so a crash loses at most the last uncommitted second of
results (those files are simply redone). It is in Python's standard
library, and ``picveil batch manifest OUT_DIR`` prints it as JSON Lines.

Schema (``PRAGMA user_version = 1``)::

    meta(key TEXT PRIMARY KEY, value TEXT)       operation, input folder, created
    files(
      input TEXT PRIMARY KEY,   -- relative to the input folder, '/' separators
      output TEXT,              -- relative to the output folder; NULL if none written
      status TEXT NOT NULL,     -- 'done' | 'skipped' | 'failed'
      reason TEXT,              -- why skipped or failed ('' when done)
      input_sha256 TEXT, output_sha256 TEXT,
      input_bytes INTEGER, output_bytes INTEGER,
      regions INTEGER,          -- regions protected / revealed; NULL if unknown
      seconds REAL,             -- worker time for this file in its last run
      spec TEXT,                -- fingerprint of the options the output was made with
      run INTEGER,              -- runs.id of the last run that saw the file
      updated TEXT)             -- UTC, ISO 8601
    runs(id INTEGER PRIMARY KEY, operation, started, finished, backend, workers,
         done, skipped, failed, seconds, interrupted)

A file is *up to date* (skipped by the next run) when its row says done or
skipped, it has an input checksum, its spec fingerprint equals the new run's,
and the worker then finds the input's SHA-256 unchanged and the output file
present with the recorded SHA-256 (or, for a photo in which nothing was
found to protect, no output recorded). The manifest is a plain file: for a
cluster whose OUT_DIR is on a network file system, put it on a local disk
with ``--manifest`` (SQLite's locking is unreliable over NFS).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from ..errors import OutputError

MANIFEST_NAME = ".picveil-manifest.sqlite"
SCHEMA_VERSION = 1
#: Results are committed at least this often, and every :data:`COMMIT_ROWS` rows.
COMMIT_SECONDS = 1.0
COMMIT_ROWS = 500

STATUSES = ("done", "skipped", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(
  input TEXT PRIMARY KEY, output TEXT, status TEXT NOT NULL, reason TEXT,
  input_sha256 TEXT, output_sha256 TEXT, input_bytes INTEGER, output_bytes INTEGER,
  regions INTEGER, seconds REAL, spec TEXT, run INTEGER, updated TEXT);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY, operation TEXT, started TEXT, finished TEXT, backend TEXT,
  workers INTEGER, done INTEGER, skipped INTEGER, failed INTEGER, seconds REAL, interrupted INTEGER);
"""


@dataclass(frozen=True)
class Row:
    """One file's latest outcome (a ``files`` row)."""

    input: str
    output: str | None
    status: str
    reason: str = ""
    input_sha256: str | None = None
    output_sha256: str | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    regions: int | None = None
    seconds: float | None = None
    spec: str | None = None
    run: int | None = None
    updated: str | None = None


_COLUMNS = tuple(f.name for f in fields(Row))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """The manifest of one output folder. Use as a context manager; not thread-safe."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._pending = 0
        self._last_commit = time.monotonic()
        self.run: int | None = None

    # --- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, operation: str | None = None, in_dir: Path | None = None) -> "Manifest":
        """Open (creating it if needed) the manifest at ``path``.

        With ``operation``, refuse a manifest written by the other operation
        (protect outputs and reveal outputs must not share a folder).
        """
        path = Path(path)
        try:
            conn = sqlite3.connect(path, isolation_level="DEFERRED")
            conn.execute("PRAGMA synchronous=NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutputError(f"The manifest {path} was written by a newer picveil.", hint="Upgrade picveil, or use another --manifest.")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise OutputError(f"Cannot use the manifest {path}: {exc}.", hint="Move the damaged file away (the batch then redoes every file), or give another --manifest.") from None
        self = cls(path, conn)
        if operation is not None:
            if meta.get("operation") not in (None, operation):
                conn.close()
                raise OutputError(
                    f"{path} is the manifest of a batch {meta['operation']}, not {operation}.",
                    hint="Use another OUT_DIR (or --manifest) for this batch.",
                )
            with conn:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('operation', ?)", (operation,))
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('created', ?)", (_now(),))
                if in_dir is not None:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES ('input_folder', ?)", (str(in_dir),))
        return self

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.commit()
            self._conn.close()
            self._conn = None

    # --- runs ----------------------------------------------------------------------------
    def start_run(self, *, operation: str, backend: str, workers: int) -> int:
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO runs(operation, started, backend, workers) VALUES (?, ?, ?, ?)",
                (operation, _now(), backend, workers),
            )
        self.run = int(cur.lastrowid)
        return self.run

    def finish_run(self, *, done: int, skipped: int, failed: int, seconds: float, interrupted: bool) -> None:
        self._conn.execute(
            "UPDATE runs SET finished=?, done=?, skipped=?, failed=?, seconds=?, interrupted=? WHERE id=?",
            (_now(), done, skipped, failed, seconds, int(interrupted), self.run),
        )
        self._conn.commit()
        self._pending = 0

    # --- rows ----------------------------------------------------------------------------
    def get(self, rel: str) -> Row | None:
        cur = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM files WHERE input=?", (rel,))
        r = cur.fetchone()
        return None if r is None else Row(*r)

    def record(self, row: Row) -> None:
        """Insert or replace ``row`` (stamped with this run); committed in batches."""
        d = asdict(row)
        d["run"], d["updated"] = self.run, _now()
        self._conn.execute(
            f"INSERT OR REPLACE INTO files({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            tuple(d[c] for c in _COLUMNS),
        )
        self._pending += 1
        if self._pending >= COMMIT_ROWS or time.monotonic() - self._last_commit >= COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        self._conn.commit()
        self._pending = 0
        self._last_commit = time.monotonic()

    def rows(self, status: str | None = None) -> Iterator[Row]:
        """Every row (or those with ``status``), in input order, streamed."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM files"
        args: tuple = ()
        if status is not None:
            sql += " WHERE status=?"
            args = (status,)
        for r in self._conn.execute(sql + " ORDER BY input", args):
            yield Row(*r)

    def meta(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM meta"))

    def counts(self) -> dict[str, int]:
        return dict(self._conn.execute("SELECT status, COUNT(*) FROM files GROUP BY status"))


def row_json(row: Row) -> str:
    """One row as a JSON line (for ``picveil batch manifest``)."""
    return json.dumps(asdict(row), ensure_ascii=False, sort_keys=False)
