"""A library of protected photos, searchable without keys: SQLite + FAISS in one file.

Why this design
---------------
* **SQLite** holds the catalogue -- one row per distinct file (by SHA-256):
  path, size, geometry, scheme, the feature vector -- and is the source of
  truth. It is one file, transactional, and in every Python.
* **FAISS** (``faiss-cpu``) answers the nearest-neighbour query: an exact
  inner-product index (``IndexFlatIP`` over unit vectors = cosine) wrapped in
  ``IndexIDMap2`` so results come back as catalogue row ids. Exact search
  over 10k 64-d vectors takes well under a millisecond; past about a million
  photos an approximate index (HNSW) would be the next step. Its serialized
  form is stored in the same database, so opening is one read; if it is
  missing or stale (a build interrupted between commits) it is rebuilt from
  the catalogue.
* ``sqlite-vec`` was the alternative; it needs ``sqlite3`` built with
  extension loading, which many Python builds (this project's CI included)
  lack, so it would fail for many users at run time.

Incremental: adding a folder again inserts only files whose SHA-256 is new
(and records the new path of a moved file). The features need no key; the
database records which extractor made them and refuses to mix extractors.

Schema (``PRAGMA user_version = 1``)::

    meta(key TEXT PRIMARY KEY, value BLOB)   -- format, extractor, dim, faiss
    images(id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE, path TEXT, bytes INTEGER,
           width INTEGER, height INTEGER, scheme TEXT, added REAL, vector BLOB)
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import IndexFileError, MissingExtraError

__all__ = [
    "AddReport",
    "Extractor",
    "Hit",
    "Library",
    "get_extractor",
    "jpeg_files",
]

INDEX_FORMAT = "picveil-search-index 1"
_SCHEMA_VERSION = 1
_JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".jfif"}


def _faiss():
    try:
        import faiss
    except ImportError:
        raise MissingExtraError("FAISS (faiss-cpu) is needed for the search index.") from None
    return faiss


# --- feature extractors --------------------------------------------------------------
class Extractor:
    """Turns JPEG bytes into unit-length ``float32`` vectors; needs no key.

    ``name`` is recorded in the database (it pins the network by its SHA-256).
    """

    name: str
    dim: int

    def __call__(self, files: Sequence[bytes]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class NetworkExtractor(Extractor):
    """The cipher-image gMLP of :mod:`picveil.search.model`.

    One PyTorch thread by default: the network is small, and on a busy
    machine extra threads make a single query ~50× slower, not faster.
    """

    def __init__(self, model, *, threads: int | None = 1) -> None:
        from .features import SCHEME_OF_KIND, tokens_for

        kind = model.config.get("kind", "cipher")
        self.model = model
        self.name = f"{'cipher-gmlp' if kind == 'cipher' else kind} sha256:{model.sha256}"
        self.dim = int(model.config["d"])
        self.threads = threads
        self.scheme = SCHEME_OF_KIND.get(kind)
        self._tokens = tokens_for(kind)

    def tokens(self, data: bytes) -> np.ndarray:
        return self._tokens(data)

    def embed_tokens(self, tokens: np.ndarray) -> np.ndarray:
        from .training import embed

        return embed(self.model, tokens, threads=self.threads)

    def __call__(self, files: Sequence[bytes]) -> np.ndarray:
        if not files:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.embed_tokens(np.stack([self.tokens(d) for d in files]))


class HistogramExtractor(Extractor):
    """Keyless coefficient histograms (no network; the seed's hand-made baseline)."""

    name = "histogram-v1"
    scheme = None  #: histograms are invariant under every searchable scheme

    def __init__(self) -> None:
        from .features import HIST_BINS, SLOT_ROWS

        self.dim = len(SLOT_ROWS) * 15 * HIST_BINS

    def __call__(self, files: Sequence[bytes]) -> np.ndarray:
        from .features import histogram_features

        if not files:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([histogram_features(d) for d in files])


class TileExtractor(Extractor):
    """Hand-made tile features of searchable-v2 files (no network, no PyTorch)."""

    name = "tiles-v1"
    scheme = "searchable-v2"
    dim = 64 * 15

    def __call__(self, files: Sequence[bytes]) -> np.ndarray:
        from .features import tile_features

        if not files:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([tile_features(d) for d in files])


def get_extractor(
    kind: str = "network",
    *,
    weights: str | os.PathLike | None = None,
    scheme: str | None = None,
    threads: int | None = 1,
) -> Extractor:
    """``"network"`` (``weights``, or the bundled model for ``scheme``, default
    searchable-v2), ``"histogram"`` (any searchable scheme) or ``"tiles"``
    (searchable-v2, hand-made)."""
    if kind == "histogram":
        return HistogramExtractor()
    if kind == "tiles":
        if scheme not in (None, TileExtractor.scheme):
            raise ValueError(f"tile features read {TileExtractor.scheme} files, not {scheme}")
        return TileExtractor()
    if kind != "network":
        raise ValueError(f"unknown feature kind {kind!r}; choose 'network', 'histogram' or 'tiles'")
    from .training import DEFAULT_SEARCH_SCHEME, load_bundled, load_weights

    model = load_weights(weights) if weights is not None else load_bundled(scheme or DEFAULT_SEARCH_SCHEME)
    return NetworkExtractor(model, threads=threads)


def bundled_scheme_of(extractor_name: str | None) -> str | None:
    """The scheme of the bundled network a library records (by its SHA-256), else None."""
    from .training import BUNDLED

    for scheme, (_, digest) in BUNDLED.items():
        if digest and extractor_name and extractor_name.endswith(f"sha256:{digest}"):
            return scheme
    return None


# --- the library -----------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    rank: int
    score: float  #: cosine similarity, -1 .. 1
    path: str
    sha256: str
    scheme: str
    width: int
    height: int


@dataclass
class AddReport:
    added: int = 0
    already: int = 0  #: files whose content was already in the library
    failed: list[tuple[str, str]] = field(default_factory=list)  #: (path, reason)
    seconds: float = 0.0


def jpeg_files(root: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """JPEG files (by suffix) under ``root``, sorted; ``root`` may be a file."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise IndexFileError(f"No such folder: {root}", hint="Give the folder that holds the protected photos.")
    it = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in _JPEG_SUFFIXES)


def _describe(data: bytes) -> tuple[int, int, str, bool]:
    """``(width, height, scheme, whole)``; scheme ``"none"`` for a JPEG without
    picveil data; `whole`: one region covers the picture (``protect --whole``)."""
    from ..errors import PicveilError
    from ..jpeg.codec import read_coefficients

    c = read_coefficients(data)
    try:
        from ..api import inspect

        info = inspect(data)
        scheme = info.scheme
        whole = len(info.regions) == 1 and (info.regions[0].box.w, info.regions[0].box.h) == (c.width, c.height)
    except PicveilError:
        scheme, whole = "none", False
    return c.width, c.height, scheme, whole


class Library:
    """An open library database. Use :meth:`open`; close it (or use ``with``)."""

    def __init__(self, con: sqlite3.Connection, path: Path) -> None:
        self._con = con
        self.path = path
        self._index = None

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = False) -> "Library":
        path = Path(path)
        if not create and not path.is_file():
            raise IndexFileError(f"No library database at {path}.")
        if create and not path.parent.is_dir():
            raise IndexFileError(f"The folder {path.parent} does not exist.", hint="Create it first, or choose another --db.")
        try:
            con = sqlite3.connect(path, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                if tables:
                    raise IndexFileError(f"{path} is an SQLite database, but not a picveil library.")
                if not create:
                    raise IndexFileError(f"{path} is empty, not a picveil library.")
                con.executescript(
                    """
                    BEGIN;
                    CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
                    CREATE TABLE images(
                        id INTEGER PRIMARY KEY,
                        sha256 TEXT NOT NULL UNIQUE,
                        path TEXT NOT NULL,
                        bytes INTEGER NOT NULL,
                        width INTEGER NOT NULL,
                        height INTEGER NOT NULL,
                        scheme TEXT NOT NULL,
                        added REAL NOT NULL,
                        vector BLOB NOT NULL);
                    PRAGMA user_version = 1;
                    COMMIT;
                    """
                )
                con.execute("INSERT INTO meta VALUES ('format', ?)", (INDEX_FORMAT,))
            elif version != _SCHEMA_VERSION:
                raise IndexFileError(f"{path} is a library of a newer picveil (schema {version}).", hint="Upgrade picveil.")
        except sqlite3.DatabaseError as exc:
            raise IndexFileError(f"{path} is not a picveil library database ({exc}).") from None
        lib = cls(con, path)
        if lib._meta("format") != INDEX_FORMAT:
            con.close()
            raise IndexFileError(f"{path} is not a picveil library.")
        return lib

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self._con.execute("SELECT count(*) FROM images").fetchone()[0]

    def scheme_counts(self) -> dict[str, int]:
        """How many library photos each protection scheme holds (``"none"``: not protected)."""
        return dict(self._con.execute("SELECT scheme, count(*) FROM images GROUP BY scheme").fetchall())

    def _meta(self, key: str):
        row = self._con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value) -> None:
        self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def extractor_name(self) -> str | None:
        """Which extractor made the vectors (``None`` for a new, empty library)."""
        return self._meta("extractor")

    def _check_extractor(self, extractor: Extractor) -> None:
        have = self.extractor_name
        if have is not None and have != extractor.name:
            raise IndexFileError(
                f"{self.path} holds features of {have!r}, not {extractor.name!r}.",
                hint="Use the same --features/--weights as when the library was built, or build a new --db.",
            )

    # -- the FAISS index -------------------------------------------------------------------
    def _faiss_index(self, dim: int | None = None):
        if self._index is not None and (dim is None or self._index.d == dim or self._index.ntotal):
            return self._index
        faiss = _faiss()
        blob = self._meta("faiss")
        n = len(self)
        index = None
        if blob is not None:
            index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
            if index.ntotal != n:
                index = None
        if index is None:
            index = self._rebuild(dim)
        self._index = index
        return index

    def _rebuild(self, dim: int | None = None):
        faiss = _faiss()
        dim = int(self._meta("dim") or dim or 1)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        rows = self._con.execute("SELECT id, vector FROM images ORDER BY id").fetchall()
        if rows:
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim)
            index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        return index

    def _store_index(self, index) -> None:
        faiss = _faiss()
        self._set_meta("faiss", faiss.serialize_index(index).tobytes())

    # -- adding ------------------------------------------------------------------------------
    def add_files(
        self,
        paths: Iterable[str | os.PathLike],
        extractor: Extractor,
        *,
        batch: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> AddReport:
        """Add the files whose content is not in the library yet.

        Each batch is committed as it is done; ``progress(n)`` is called with
        the number of files handled since the last call.
        """
        from ..errors import PicveilError

        self._check_extractor(extractor)
        faiss_index = self._faiss_index(extractor.dim)
        report = AddReport()
        start = time.perf_counter()
        pending: list[tuple] = []
        datas: list[bytes] = []

        def flush() -> None:
            if not pending:
                return
            vecs = np.ascontiguousarray(extractor(datas), dtype=np.float32)
            self._con.execute("BEGIN IMMEDIATE")
            try:
                if self.extractor_name is None:
                    self._set_meta("extractor", extractor.name)
                    self._set_meta("dim", str(vecs.shape[1]))
                ids = []
                for row, vec in zip(pending, vecs):
                    cur = self._con.execute(
                        "INSERT INTO images(sha256, path, bytes, width, height, scheme, added, vector) VALUES (?,?,?,?,?,?,?,?)",
                        (*row, time.time(), vec.astype("<f4").tobytes()),
                    )
                    ids.append(cur.lastrowid)
                self._con.execute("COMMIT")
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            faiss_index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))
            report.added += len(pending)
            pending.clear()
            datas.clear()

        seen: set[str] = set()
        for p in paths:
            p = Path(p)
            try:
                data = p.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                row = self._con.execute("SELECT path FROM images WHERE sha256 = ?", (digest,)).fetchone()
                if row is not None or digest in seen:
                    report.already += 1
                    if row is not None and row[0] != str(p) and not Path(row[0]).exists():
                        self._con.execute("UPDATE images SET path = ? WHERE sha256 = ?", (str(p), digest))
                else:
                    width, height, scheme, whole = _describe(data)
                    wanted = getattr(extractor, "scheme", None)
                    if wanted and scheme.startswith("searchable") and scheme != wanted:
                        raise IndexFileError(
                            f"protected with {scheme}; this library's network reads {wanted} files "
                            f"(build a separate library with --scheme {scheme})"
                        )
                    if not (scheme.startswith("searchable") and whole):  # a library holds cipher images only
                        what = "not protected" if scheme == "none" else (
                            f"protected with {scheme}" if not scheme.startswith("searchable") else "protected in regions, not whole")
                        raise IndexFileError(
                            f"{what}: a library holds photos protected whole with a searchable scheme "
                            "(`picveil protect --whole`)"
                        )
                    seen.add(digest)
                    pending.append((digest, str(p), len(data), width, height, scheme))
                    datas.append(data)
            except (PicveilError, OSError, ValueError) as exc:  # one bad file must not stop a build
                report.failed.append((str(p), getattr(exc, "message", None) or str(exc) or type(exc).__name__))
            if len(pending) >= batch:
                flush()
            if progress is not None:
                progress(1)
        flush()
        self._con.execute("BEGIN IMMEDIATE")
        self._store_index(faiss_index)
        self._con.execute("COMMIT")
        report.seconds = time.perf_counter() - start
        return report

    # -- searching ---------------------------------------------------------------------------
    def search_vector(self, vector: np.ndarray, k: int = 10) -> list[Hit]:
        """The ``k`` nearest images to a unit-length query vector, best first."""
        if k < 1:
            raise ValueError("k must be at least 1")
        n = len(self)
        if n == 0:
            return []
        index = self._faiss_index()
        q = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        if q.shape[1] != index.d:
            raise IndexFileError(f"The query has {q.shape[1]} features; the library holds {index.d}.")
        faiss = _faiss()
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # one query: threads only add start-up and contention
        try:
            scores, ids = index.search(q, min(k, n))
        finally:
            faiss.omp_set_num_threads(threads)
        hits = []
        for rank, (score, rid) in enumerate(zip(scores[0], ids[0]), start=1):
            if rid < 0:
                continue
            row = self._con.execute(
                "SELECT path, sha256, scheme, width, height FROM images WHERE id = ?", (int(rid),)
            ).fetchone()
            hits.append(Hit(rank, float(score), row[0], row[1], row[2], row[3], row[4]))
        return hits

    def search(self, query: bytes, extractor: Extractor, k: int = 10) -> list[Hit]:
        """The ``k`` library images most similar to the JPEG ``query`` (protected or not)."""
        self._check_extractor(extractor)
        wanted = getattr(extractor, "scheme", None)
        if wanted:
            scheme = _describe(query)[2]
            if scheme.startswith("searchable") and scheme != wanted:
                raise IndexFileError(
                    f"The query is protected with {scheme}, but this library's network reads {wanted} files.",
                    hint=f"Protect the query with --scheme {wanted}, or search a library built from {scheme} files.",
                )
        return self.search_vector(extractor([query])[0], k)
