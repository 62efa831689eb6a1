"""The blob store: one level of folders, and blobs of a store written with two levels still served."""

import hashlib

from webapp.mail.storage import BlobStore
from webapp.privacy.purge import forget_blobs

CV = b"%PDF-1.4 a CV kept since before the layout changed"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kept_the_old_way(root, data: bytes):
    """A blob as a store written before December 2026 kept it: root/ab/cd/<sha>."""
    sha = _sha(data)
    path = root / sha[:2] / sha[2:4] / sha
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def test_a_new_blob_goes_in_one_level_of_folders(tmp_path):
    store = BlobStore(tmp_path)
    sha = store.put(b"hello", durable=False)
    assert (tmp_path / sha[:2] / sha).read_bytes() == b"hello"
    assert store.path(sha) == tmp_path / sha[:2] / sha
    assert [p.name for p in tmp_path.iterdir()] == [sha[:2]]  # no second level
    [many] = store.put_many([b"world"])
    assert (tmp_path / many[:2] / many).read_bytes() == b"world"


def test_a_blob_of_the_old_layout_is_read_and_not_written_again(tmp_path):
    old = _kept_the_old_way(tmp_path, CV)
    store = BlobStore(tmp_path)
    sha = _sha(CV)
    assert store.exists(sha)
    assert store.get(sha) == CV
    with store.open(sha) as fh:
        assert fh.read() == CV
    assert store.path(sha) == old
    assert store.put(CV) == sha
    assert store.put_many([CV, b"new"])[0] == sha
    assert not (tmp_path / sha[:2] / sha).exists()  # the same bytes were not stored twice


def test_a_half_written_old_blob_is_written_again_in_the_new_place(tmp_path):
    old = _kept_the_old_way(tmp_path, CV)
    old.write_bytes(CV[:10])  # a crash left it short
    store = BlobStore(tmp_path)
    sha = store.put(CV)
    assert store.get(sha) == CV
    assert store.path(sha) == tmp_path / sha[:2] / sha


def test_forgetting_removes_an_old_layout_blob(app, tmp_path):
    old = _kept_the_old_way(tmp_path, CV)
    with app.app_context():
        assert forget_blobs(BlobStore(tmp_path), [_sha(CV)]) == 1
    assert not old.exists()


class _Syncs:
    """What a put_many asked of the disk: syncfs rounds, and the paths fsynced one by one."""

    def __init__(self, monkeypatch, syncfs_works: bool):
        from webapp.mail import storage

        self.rounds: list[list[str]] = []  # the files in place (final names) at each syncfs
        self.fsynced: list = []

        def syncfs(root):
            self.rounds.append(sorted(p.name for p in root.rglob("*") if p.is_file()))
            return syncfs_works

        monkeypatch.setattr(storage, "_syncfs", syncfs)
        monkeypatch.setattr(storage, "_fsync_path", self.fsynced.append)


def test_a_batch_is_made_durable_in_two_rounds_of_the_whole_file_system(tmp_path, monkeypatch):
    """Written, synced, renamed, synced again: a name never points at bytes not yet on disk."""
    syncs = _Syncs(monkeypatch, syncfs_works=True)
    shas = BlobStore(tmp_path).put_many([b"one", b"two", b"one"])
    assert syncs.fsynced == []
    [before, after] = syncs.rounds
    assert not set(before) & set(shas)  # the first round: only the temporary files
    assert set(shas) <= set(after)  # the second: the renames
    assert all((tmp_path / sha[:2] / sha).exists() for sha in shas)


def test_without_syncfs_every_file_and_folder_is_fsynced(tmp_path, monkeypatch):
    syncs = _Syncs(monkeypatch, syncfs_works=False)
    shas = BlobStore(tmp_path).put_many([b"one", b"two"])
    files = [p for p in syncs.fsynced if p.name.startswith(".tmp-")]
    folders = [p for p in syncs.fsynced if p in {tmp_path / sha[:2] for sha in shas}]
    assert len(files) == 2
    assert len(folders) == len({sha[:2] for sha in shas})


def test_a_lone_message_is_fsynced_not_the_whole_file_system(tmp_path, monkeypatch):
    syncs = _Syncs(monkeypatch, syncfs_works=True)
    [sha] = BlobStore(tmp_path).put_many([b"alone"])
    assert syncs.rounds == []
    assert [p.name.startswith(".tmp-") for p in syncs.fsynced] == [True, False]
    assert syncs.fsynced[1] == tmp_path / sha[:2]
