"""Content-addressed blob store for raw messages and attachments (STORAGE_DIR)."""

import ctypes
import functools
import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

# Syncs of one batch run side by side: the filesystem's journal commits concurrent fsyncs
# together, where one after the other each waits for its own commit.
_SYNCS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="blob-fsync")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_beside(target: Path, data: bytes, *, durable: bool) -> Path:
    """Write `data` to a new temporary file in `target`'s folder (made if missing); its path.

    The name is unique to this blob, process and thread (O_EXCL refuses a stale one, which is
    then removed): cheaper than mkstemp's random names, and no mkdir while the folder exists.
    """
    tmp = target.parent / f".tmp-{target.name[:16]}-{os.getpid()}-{threading.get_ident()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:  # left by a crash of an earlier process with this pid
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


class BlobStore:
    """Files named by their SHA-256, written atomically, never overwritten.

    A blob lives in one of 256 folders named by its first two hex digits (root/ab/ab12...), as
    git keeps loose objects: a new blob seldom needs a new folder, and a new folder costs as much
    as several files. Stores written before December 2026 kept a second level (root/ab/12/ab12...):
    blobs found there are read, deduplicated against and removed where they are.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the blob is (or, when it is not stored, where it goes)."""
        here = self._here(sha256)
        if here.exists():
            return here
        earlier = self._earlier(sha256)
        return earlier if earlier.exists() else here

    def _here(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def _earlier(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, *, durable: bool = True) -> str:
        """Store `data` (once) and return its SHA-256.

        durable=False skips the fsync, for blobs derived from one that is already durable:
        attachments extracted from a stored raw message, which the raw can always give again.
        """
        sha = hashlib.sha256(data).hexdigest()
        if self._stored_whole(sha, len(data), durable) is not None:
            return sha
        # Write beside the target then rename, so a crash never leaves a half file.
        target = self._here(sha)
        tmp = _write_beside(target, data, durable=durable)
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return sha

    def put_many(self, blobs: list[bytes]) -> list[str]:
        """Store several blobs durably (each once) and return their SHA-256s, in order.

        What `put` does for each, but with one round of syncs for the batch: every new file
        is written, the files are made durable together, renamed into place, then the
        directories they went into are made durable together (a rename is durable once its
        directory is). For two blobs or more, each round is one syncfs(2) of the store's file
        system where Linux offers it, as `make_durable` does: under a burst the listener paid
        two fsyncs a message, each an open, a thread woken and a journal commit waited for
        (a tenth of its CPU end to end). The price: a round also writes whatever else is
        waiting to be written on that file system. A lone message is fsynced as before.
        """
        shas = [hashlib.sha256(data).hexdigest() for data in blobs]
        fresh: dict[str, bytes] = {}
        stored: dict[str, Path] = {}
        for sha, data in zip(shas, blobs, strict=True):
            if sha in fresh or sha in stored:
                continue
            found = self._stored_whole(sha, len(data), durable=False)
            if found is not None:
                stored[sha] = found  # already there: synced again below, as `put` does
            else:
                fresh[sha] = data
        written: list[tuple[Path, Path]] = []
        try:
            for sha, data in fresh.items():
                target = self._here(sha)
                written.append((_write_beside(target, data, durable=False), target))
            whole = len(written) + len(stored) > 1
            self._sync([tmp for tmp, _ in written] + list(stored.values()), whole)
            for tmp, target in written:
                os.replace(tmp, target)
        except BaseException:
            for tmp, _ in written:
                tmp.unlink(missing_ok=True)
            raise
        if written:
            self._sync(sorted({target.parent for _, target in written}), whole)
        return shas

    def _sync(self, paths: list[Path], whole: bool) -> None:
        """Put these files or folders on disk: with `whole`, one syncfs(2) of the store's file
        system where Linux offers it; else (or where it does not) each fsynced, side by side."""
        if whole and _syncfs(self.root):
            return
        list(_SYNCS.map(_fsync_path, paths))

    def _stored_whole(self, sha256: str, size: int, durable: bool) -> Path | None:
        """Where the blob is already stored whole (and, for a durable put, on disk); None if not.

        A crash soon after a put without fsync can leave the file empty; it is then written
        again. A durable put of bytes first stored without fsync syncs them now.
        """
        for target in (self._here(sha256), self._earlier(sha256)):
            try:
                if os.stat(target).st_size != size:
                    return None
            except FileNotFoundError:
                continue
            if durable:
                _fsync_path(target)
            return target
        return None

    def make_durable(self, shas: list[str]) -> None:
        """Put blobs written with durable=False on disk, all at once (a batch, before its commit).

        One syncfs(2) of the store's file system where Linux offers it: a sync of fifty mailbox
        messages costs one flush, not fifty. Elsewhere, each file is fsynced.
        """
        if shas:
            self._sync([self.path(sha) for sha in shas], len(shas) > 1)

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def open(self, sha256: str) -> BinaryIO:
        """The blob as a binary file, to read in chunks."""
        return self.path(sha256).open("rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()


class BackgroundWriter:
    """Blobs written (without fsync) by a thread of its own, a group at a time, behind the caller.

    Creating a file is kernel time, spent outside the GIL: written here, it overlaps the
    caller's Python work (a sync's rows, the next FETCH). At most `depth` groups wait to be
    written (the caller's groups are bounded, so memory is). `wait` before making the blobs
    durable and committing the rows that name them; an error in writing is raised there.
    """

    def __init__(self, store: BlobStore, depth: int = 2):
        self._store = store
        self._depth = depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-writer")
        self._pending: list[Future[None]] = []

    def write(self, blobs: list[bytes]) -> None:
        """Write these blobs after the groups handed over before them."""
        while len(self._pending) >= self._depth:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(self._write, blobs))

    def _write(self, blobs: list[bytes]) -> None:
        for data in blobs:
            self._store.put(data, durable=False)

    def wait(self) -> None:
        """Until every blob handed over is written; raises what writing one raised."""
        while self._pending:
            self._pending.pop(0).result()

    def __enter__(self) -> "BackgroundWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)


@functools.cache
def _libc_syncfs():
    """libc's syncfs, looked up once (None where there is none): a listener's batch syncs twice."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None


def _syncfs(root: Path) -> bool:
    """syncfs(2) on the file system holding `root`; False where it is not available."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    fd = os.open(root, os.O_RDONLY)
    try:
        return syncfs(fd) == 0
    finally:
        os.close(fd)
