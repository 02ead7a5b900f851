"""Fashion-MNIST loading: IDX parsing, checksums, search order, download, synthetic fallback."""

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from bnviz.data import fashion_mnist
from bnviz.data.fashion_mnist import DataError, FileSpec


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written independently of the parser (struct-free, by hand)."""
    header = bytes([0, 0, 0x08, array.ndim])
    for d in array.shape:
        header += int(d).to_bytes(4, "big")
    return header + array.astype(np.uint8).tobytes()


def write_set(folder: Path, n_train=12, n_test=5, seed=0) -> dict:
    """Four small IDX .gz files plus the specs (checksums) that match them."""
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28)),
              "train_labels": rng.integers(0, 10, n_train),
              "test_images": rng.integers(0, 256, (n_test, 28, 28)),
              "test_labels": rng.integers(0, 10, n_test)}
    specs = {}
    folder.mkdir(parents=True, exist_ok=True)
    for key, arr in arrays.items():
        raw = idx_bytes(arr)
        gz = gzip.compress(raw)
        name = fashion_mnist.FILES[key].name
        (folder / name).write_bytes(gz)
        specs[key] = FileSpec(name, hashlib.sha256(raw).hexdigest(), len(raw),
                              hashlib.md5(gz).hexdigest())
    return {"arrays": arrays, "specs": specs}


def hide_datasets(monkeypatch, tmp_path):
    """No Debian copy, no cache, no $BNVIZ_DATA: the search sees only folders under ``tmp_path``
    (``debian`` stands in for Debian's folder)."""
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BNVIZ_DATA", raising=False)
    return tmp_path


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    return hide_datasets(monkeypatch, tmp_path)


def test_parse_matches_written_arrays(tmp_path):
    made = write_set(tmp_path / "set")
    ds = fashion_mnist.read_folder(tmp_path / "set", files=made["specs"])
    np.testing.assert_array_equal(ds.x_train, made["arrays"]["train_images"])
    np.testing.assert_array_equal(ds.y_test, made["arrays"]["test_labels"])
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.x_train.shape == (12, 28, 28) and not ds.synthetic
    x_train, y_train, x_test, y_test, *_ = ds  # unpacks like the documented tuple
    assert len(x_test) == len(y_test) == 5


@pytest.mark.parametrize("damage, key", [
    (lambda gz: gz[: len(gz) // 2], "data_corrupt"),  # truncated download
    (lambda gz: b"not a gzip file at all", "data_corrupt"),
    (lambda gz: gzip.compress(gzip.decompress(gz)[:-7]), "data_truncated"),  # short payload
    (lambda gz: gzip.compress(b"\x00\x00\x0d\x03" + gzip.decompress(gz)[4:]), "data_bad_header"),
    (lambda gz: gzip.compress(gzip.decompress(gz)[:-1] + b"\x01"), "data_checksum"),  # one byte
])
def test_damaged_file_is_a_clear_error(tmp_path, damage, key):
    made = write_set(tmp_path / "set")
    path = tmp_path / "set" / fashion_mnist.FILES["train_images"].name
    path.write_bytes(damage(path.read_bytes()))
    # Checksum errors need the spec; the others are caught by the parser even without one.
    with pytest.raises(DataError) as err:
        fashion_mnist.read_folder(tmp_path / "set", files=made["specs"])
    assert err.value.key == key
    assert err.value.params["file"].endswith(fashion_mnist.FILES["train_images"].name)


def test_missing_file_names_it(tmp_path):
    made = write_set(tmp_path / "set")
    (tmp_path / "set" / fashion_mnist.FILES["test_labels"].name).unlink()
    with pytest.raises(DataError) as err:
        fashion_mnist.read_folder(tmp_path / "set", files=made["specs"])
    assert err.value.key == "data_missing_file" and "t10k-labels" in err.value.params["file"]


def test_search_order(nowhere, monkeypatch):
    tmp = nowhere
    for name in ("explicit", "env", "cache/bnviz/fashion-mnist", "debian"):
        write_set(tmp / name)
    monkeypatch.setenv("BNVIZ_DATA", str(tmp / "env"))
    assert fashion_mnist.find(tmp / "explicit") == tmp / "explicit"
    assert fashion_mnist.find() == tmp / "env"
    monkeypatch.delenv("BNVIZ_DATA")
    assert fashion_mnist.find() == tmp / "cache/bnviz/fashion-mnist"
    (tmp / "cache/bnviz/fashion-mnist" / fashion_mnist.FILES["train_images"].name).unlink()
    assert fashion_mnist.find() == tmp / "debian"
    assert fashion_mnist.find(tmp / "empty-folder") == tmp / "debian"


def test_no_copy_raises_or_falls_back_to_labelled_synthetic(nowhere):
    with pytest.raises(DataError) as err:
        fashion_mnist.load_fashion_mnist()
    assert err.value.key == "data_not_found" and "debian" in err.value.params["folders"]
    ds = fashion_mnist.load_fashion_mnist(fallback_synthetic=True)
    assert ds.synthetic and ds.source == "synthetic"
    assert ds.x_train.shape[1:] == (28, 28) and ds.x_train.dtype == np.uint8
    assert set(np.unique(ds.y_train)) == set(range(10))


def test_a_copy_is_read_once_per_process_until_its_files_change(nowhere, monkeypatch):
    """Every page, job and worker of a process shares one read of a copy (~0.5 s of CPU each:
    a page test's fresh caches read it again every time); a file changed or replaced is read anew."""
    made = write_set(nowhere / "debian")
    reads = []
    real = fashion_mnist.read_folder
    monkeypatch.setattr(fashion_mnist, "read_folder", lambda *a, **k: reads.append(a) or real(*a, **k))
    first = fashion_mnist.load_fashion_mnist(verify=False)
    assert fashion_mnist.load_fashion_mnist(verify=False) is first and len(reads) == 1
    np.testing.assert_array_equal(first.x_train, made["arrays"]["train_images"])
    again = write_set(nowhere / "new", seed=1)  # the same names and sizes, other images …
    for spec in fashion_mnist.FILES.values():  # … moved into place, as a package or a download does
        (nowhere / "new" / spec.name).replace(nowhere / "debian" / spec.name)
    changed = fashion_mnist.load_fashion_mnist(verify=False)
    assert len(reads) == 2 and changed is not first
    np.testing.assert_array_equal(changed.x_train, again["arrays"]["train_images"])
    with pytest.raises(DataError):  # the real checksums: a failed read is not kept
        fashion_mnist.load_fashion_mnist()
    assert len(reads) == 3


def test_corrupt_copy_is_not_papered_over_by_the_fallback(nowhere):
    write_set(nowhere / "debian")  # checksums of the real files cannot match
    with pytest.raises(DataError) as err:
        fashion_mnist.load_fashion_mnist(fallback_synthetic=True)
    assert err.value.key == "data_checksum"


def test_synthetic_is_seeded_and_learnable_by_a_nearest_mean_rule():
    a, b = fashion_mnist.synthetic(600, 200, seed=3), fashion_mnist.synthetic(600, 200, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    x = a.x_train.reshape(len(a.x_train), -1).astype(float)
    means = np.stack([x[a.y_train == k].mean(0) for k in range(10)])
    xt = a.x_test.reshape(len(a.x_test), -1).astype(float)
    pred = ((xt[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    assert (pred == a.y_test).mean() > 0.5  # far above 0.1: the classes are real


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_from_a_local_server_with_progress_and_checksums(tmp_path, nowhere):
    made = write_set(tmp_path / "served")
    def handler(*a, **k):
        return _Handler(*a, directory=str(tmp_path / "served"), **k)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    seen = []
    try:
        dest = fashion_mnist.download(tmp_path / "got", base_url=url, files=made["specs"],
                             progress=lambda name, done, total: seen.append((name, done, total)))
        ds = fashion_mnist.read_folder(dest, files=made["specs"])
        np.testing.assert_array_equal(ds.x_train, made["arrays"]["train_images"])
        assert {name for name, _, _ in seen} == {s.name for s in made["specs"].values()}
        assert all(done == total for name, done, total in seen if done == total) and seen[-1][1] > 0
        # A served file that does not match its MD5 is refused and nothing is left behind.
        bad = dict(made["specs"], train_labels=made["specs"]["train_labels"]._replace(gz_md5="0" * 32))
        (tmp_path / "got2").mkdir()
        with pytest.raises(DataError) as err:
            fashion_mnist.download(tmp_path / "got2", base_url=url, files=bad)
        assert err.value.key == "data_checksum"
        assert not (tmp_path / "got2" / bad["train_labels"].name).exists()
        assert not list((tmp_path / "got2").glob("*.part"))
        # Unreachable server: a download error, not a traceback from urllib.
        with pytest.raises(DataError) as err:
            fashion_mnist.download(tmp_path / "got3", base_url=url + "missing/", files=made["specs"])
        assert err.value.key == "data_download"
    finally:
        server.shutdown()


def test_real_fashion_mnist_from_the_debian_package():
    """CI installs dataset-fashion-mnist; the real files must load and verify (never skipped)."""
    ds = fashion_mnist.read_folder(fashion_mnist.DEBIAN_DIR)
    assert ds.x_train.shape == (60_000, 28, 28) and ds.x_test.shape == (10_000, 28, 28)
    assert ds.y_train.dtype == np.int64 and not ds.synthetic
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert 60 < ds.x_train.mean() < 90  # ink on a dark background, as in the paper
