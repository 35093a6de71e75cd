"""Run a job spec over a folder tree, on local processes or a Dask cluster.

The parent process walks the tree (streaming), looks each file up in the
manifest, submits :func:`~picveil.batch.spec.process` tasks through a
bounded window of in-flight futures (``2 × workers``: memory does not grow
with the library, and no image ever enters the parent), and records each
result in the manifest as it arrives. Workers read and write the files
themselves; only paths, options and small result rows cross processes.

Backends
--------
``local``: :class:`concurrent.futures.ProcessPoolExecutor` with the
``forkserver`` start method where the platform has it (else ``spawn``).
Each worker runs :meth:`spec.warm` once (detector models load once per
worker). If a worker dies (a crash in native code, the out-of-memory
killer), the pool is rebuilt and the files that were in flight are retried
one at a time, so only the file that kills a worker fails.

``dask``: ``"local"`` starts a :class:`dask.distributed.LocalCluster`
(``workers`` processes, one thread each, on 127.0.0.1); any other value is a
scheduler address (``tcp://host:8786``, ``tls://…``). Every worker warms up
through ``Client.run``. Input and output paths must be the same on every
worker (a shared file system). Options, including a passphrase, travel to
the workers over the scheduler connection: use ``tls://`` beyond one
machine. The local cluster runs without Dask's statistical profiler
(``distributed.worker.profile.enabled: false``), which otherwise costs about
a third of the throughput here; set the same in a real cluster's worker
configuration. Dask is an optional extra (``pip install "picveil[dask]"``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import PicveilError
from .manifest import MANIFEST_NAME, Manifest, Row
from .spec import FeatureUnavailableError, Task, process, warm
from .walk import Entry, check_folders, clean_partials, count, output_rel, walk

#: In-flight tasks per worker: enough to keep workers busy, small enough to bound memory.
WINDOW_PER_WORKER = 2
#: Failure reasons kept for the summary (the manifest has them all).
MAX_REASONS = 20
MAX_FAILED_EXAMPLES = 10
#: Exit status of a batch in which some files failed (errors.py has 1-7).
EXIT_SOME_FAILED = 8
#: Exit status of an interrupted batch (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130

log = logging.getLogger(__name__)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass
class Summary:
    """Counts and timing of one run (bounded: reasons are aggregated)."""

    operation: str
    backend: str
    workers: int
    manifest: Path
    done: int = 0
    skipped: int = 0
    failed: int = 0
    regions: int = 0
    seconds: float = 0.0
    worker_seconds: float = 0.0
    interrupted: bool = False
    skip_reasons: Counter = field(default_factory=Counter)
    fail_reasons: Counter = field(default_factory=Counter)
    failed_examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.done + self.skipped + self.failed

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_SOME_FAILED if self.failed else 0

    def add(self, row: Row) -> None:
        if row.status == "done":
            self.done += 1
            self.regions += row.regions or 0
            self.worker_seconds += row.seconds or 0.0
        elif row.status == "skipped":
            self.skipped += 1
            _count(self.skip_reasons, row.reason)
        else:
            self.failed += 1
            self.worker_seconds += row.seconds or 0.0
            _count(self.fail_reasons, row.reason)
            if len(self.failed_examples) < MAX_FAILED_EXAMPLES:
                self.failed_examples.append((row.input, row.reason))


def _count(counter: Counter, reason: str) -> None:
    key = reason or "(no reason)"
    if key in counter or len(counter) < MAX_REASONS:
        counter[key] += 1
    else:
        counter["(other reasons: see the manifest)"] += 1


# --- executors -------------------------------------------------------------------------------------
class _LocalBackend:
    name = "local"

    def __init__(self, spec, workers: int) -> None:
        self.spec, self.workers = spec, workers
        methods = multiprocessing.get_all_start_methods()
        self._ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_init_local_worker, initargs=(self.spec,))

    def submit(self, task: Task):
        return self._pool.submit(process, self.spec, task)

    def wait_any(self, pending):
        return wait(pending, return_when=FIRST_COMPLETED)

    def result(self, fut) -> Row:
        return fut.result()

    def broken(self, exc: BaseException) -> bool:
        return isinstance(exc, BrokenProcessPool)

    def cancel_queued(self, pending: dict) -> None:
        for fut in list(pending):
            if fut.cancel():  # not started yet
                pending.pop(fut)

    def rebuild(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self, *, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


def _init_local_worker(spec) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and lets running files finish
    warm(spec)


class _DaskBackend:
    name = "dask"

    def __init__(self, spec, address: str, workers: int) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise FeatureUnavailableError(
                "--dask needs Dask's distributed scheduler, which is not installed.",
                hint='pip install "picveil[dask]" (or "dask[distributed]").',
            ) from None
        self.spec = spec
        self._cluster = None
        try:
            if address == "local":
                import dask

                # Dask's statistical profiler samples every task thread's stack every
                # 10 ms; on picveil's work that costs about a third of the throughput.
                with dask.config.set({"distributed.worker.profile.enabled": False}):
                    self._cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=logging.CRITICAL,  # failures reach the manifest as task errors
                    )
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise PicveilError(f"Cannot reach the Dask scheduler at {address}: {exc}", hint="Check the address (tcp://HOST:8786) and that the scheduler runs.") from None
        self.workers = max(1, sum(self._client.nthreads().values()))
        self._client.run(warm, spec)

    def submit(self, task: Task):
        return self._client.submit(process, self.spec, task, pure=False)

    def wait_any(self, pending):
        from dask.distributed import wait as dwait

        done, not_done = dwait(list(pending), return_when="FIRST_COMPLETED")
        return set(done), set(not_done)

    def result(self, fut) -> Row:
        return fut.result()

    def broken(self, exc: BaseException) -> bool:
        return False  # Dask reschedules work of lost workers itself (KilledWorker after retries)

    def cancel_queued(self, pending: dict) -> None:
        self._client.cancel(list(pending))  # files being written then are redone by the next run
        pending.clear()

    def rebuild(self) -> None:  # pragma: no cover - not used
        pass

    def close(self, *, cancel: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


# --- the run ------------------------------------------------------------------------------------------
def run_batch(
    spec,
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    dask: str | None = None,
    manifest: str | os.PathLike | None = None,
    redo: bool = False,
    on_result: Callable[[Row], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_start: Callable[["Summary"], None] | None = None,
) -> Summary:
    """Apply ``spec`` (a :class:`~picveil.batch.BatchSpec` or :class:`~picveil.batch.RevealSpec`)
    to every file under ``in_dir``, writing the mirrored tree under ``out_dir``.

    Parameters
    ----------
    workers : int, optional
        Local worker processes, or the size of a ``dask="local"`` cluster
        (default: the cores available).
    dask : str, optional
        ``"local"`` or a scheduler address; ``None`` runs a local process pool.
    manifest : path, optional
        Default ``OUT_DIR/.picveil-manifest.sqlite``.
    redo : bool
        Ignore the manifest's record of finished files (do everything again).
    on_result, on_total, on_start
        Progress callbacks: each manifest row as it is recorded; the number of
        files, from a counting pass in a background thread (may come late or,
        for a tiny tree, after the first results); the summary object before
        the first file.

    Returns
    -------
    Summary
        Counts, reasons and timing; ``summary.exit_code`` is 0, 8 (some files
        failed) or 130 (interrupted).

    Raises
    ------
    PicveilError
        Before any file is processed: bad folders or options, an unusable
        manifest, an unreachable scheduler. Problems with single files are
        recorded instead.
    KeyboardInterrupt
        Never: an interrupt stops submitting, lets running files finish,
        records them and returns with ``interrupted`` set.
    """
    src_root, dst_root = check_folders(in_dir, out_dir)
    spec.check()
    fp = spec.fingerprint()
    manifest_path = Path(manifest) if manifest is not None else dst_root / MANIFEST_NAME
    workers = workers or default_workers()
    if workers < 1:
        raise PicveilError(f"--workers must be at least 1, got {workers}.")
    with Manifest.open(manifest_path, operation=spec.operation, in_dir=src_root) as mf:
        if on_total is not None:
            threading.Thread(target=lambda: on_total(count(src_root)), name="picveil-count", daemon=True).start()
        backend = _DaskBackend(spec, dask, workers) if dask else _LocalBackend(spec, workers)
        summary = Summary(spec.operation, backend.name if dask != "local" else "dask-local", backend.workers, manifest_path)
        mf.start_run(operation=spec.operation, backend=summary.backend, workers=backend.workers)
        if on_start is not None:
            on_start(summary)
        t0 = time.perf_counter()
        try:
            with _terminate_as_interrupt():
                _drive(spec, backend, mf, src_root, dst_root, fp, redo, summary, on_result)
        finally:
            summary.seconds = time.perf_counter() - t0
            mf.finish_run(done=summary.done, skipped=summary.skipped, failed=summary.failed, seconds=summary.seconds, interrupted=summary.interrupted)
    return summary


#: Pool rebuilds in a row, without a file finishing in between, before a batch gives up.
MAX_BARREN_REBUILDS = 3
_DIED = "the worker process died on this file (a crash, or out of memory)"


class _Dispatcher:
    """Keeps at most ``window`` tasks in flight, records each result, and
    survives dying workers: after a local pool breaks, the files that were in
    flight are retried one at a time, so that only the one that kills a
    worker fails (as :data:`_DIED`)."""

    def __init__(self, backend, record: Callable[[Row], None], window: int) -> None:
        self.backend, self._record_row, self.window = backend, record, window
        self.pending: dict = {}  # future -> Task
        self._retried: set[str] = set()
        self._barren = 0

    def submit(self, task: Task) -> None:
        while True:
            try:
                fut = self.backend.submit(task)
            except Exception as exc:
                if not self.backend.broken(exc):
                    raise
                self._recover([])  # the pool died before this task got in
                continue
            self.pending[fut] = task
            return

    def collect(self, block_until: int) -> None:
        """Wait until at most ``block_until`` tasks are in flight, recording results."""
        while len(self.pending) > block_until:
            done, _ = self.backend.wait_any(set(self.pending))
            lost: list[Task] = []
            for fut in done:
                task = self.pending.pop(fut)
                try:
                    row = self.backend.result(fut)
                except Exception as exc:
                    if self.backend.broken(exc):
                        lost.append(task)
                    else:
                        self.record(Row(task.rel, None, "failed", f"the worker failed: {type(exc).__name__}: {exc}"))
                else:
                    self.record(row)
            if lost:
                self._recover(lost)

    def record(self, row: Row) -> None:
        if row.status != "failed":
            self._barren = 0
        self._record_row(row)

    def _recover(self, lost: list[Task]) -> None:
        """A worker died and took the pool down: keep what finished, rebuild, retry the rest."""
        for fut, task in list(self.pending.items()):
            row = None
            if fut.done() and not fut.cancelled():
                try:
                    row = self.backend.result(fut)
                except Exception:
                    row = None
            if row is not None:
                self.record(row)
            else:
                lost.append(task)
        self.pending.clear()
        self._barren += 1
        if self._barren > MAX_BARREN_REBUILDS:
            raise PicveilError(
                "The worker processes keep dying before any file finishes; the batch stopped.",
                hint="Check memory (large photos need about 10 bytes per pixel per worker): try fewer --workers.",
            )
        self.backend.rebuild()
        suspects = []
        for t in lost:
            if t.rel in self._retried:
                self.record(Row(t.rel, None, "failed", _DIED))
            else:
                self._retried.add(t.rel)
                suspects.append(t)
        for t in suspects:  # one at a time, so that only the culprit fails
            self.submit(t)
            self.collect(0)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a service manager stopping the run, ``kill``) handled as Ctrl-C
    is: no file submitted after it, running files finished and recorded, the
    workers shut down. By default it killed the parent alone and left the
    workers running, and the manifest's journal behind. Main thread only (where
    Python handles signals); elsewhere nothing changes."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _drive(spec, backend, mf: Manifest, src_root: Path, dst_root: Path, fp: str, redo: bool, summary: Summary, on_result) -> None:
    def record(row: Row) -> None:
        row = replace(row, spec=fp)
        mf.record(row)
        summary.add(row)
        if on_result is not None:
            on_result(row)

    work = _Dispatcher(backend, record, WINDOW_PER_WORKER * backend.workers)
    last_folder = None
    try:
        for entry in walk(src_root, dst_root, spec.suffixes):
            if entry.kind != "image":
                work.record(Row(entry.rel, None, "skipped" if entry.kind == "other" else "failed", entry.reason))
                continue
            folder = os.path.dirname(entry.dst)
            if folder != last_folder:
                clean_partials(folder)
                last_folder = folder
            work.submit(_task(entry, dst_root, mf, fp, redo))
            work.collect(work.window - 1)
        work.collect(0)
    except KeyboardInterrupt:
        summary.interrupted = True
        backend.cancel_queued(work.pending)
        try:
            work.collect(0)  # running files finish (local workers ignore SIGINT) and are recorded
        except KeyboardInterrupt:
            pass
        backend.close(cancel=True)
    except BaseException:
        backend.close(cancel=True)
        raise
    else:
        backend.close()
    finally:
        mf.commit()


def _task(entry: Entry, dst_root: Path, mf: Manifest, fp: str, redo: bool) -> Task:
    prev = None if redo else mf.get(entry.rel)
    if prev is not None and not (prev.status in ("done", "skipped") and prev.input_sha256 and prev.spec == fp):
        prev = None
    return Task(entry.rel, entry.src, entry.dst, output_rel(entry.dst, dst_root), prev)
