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
