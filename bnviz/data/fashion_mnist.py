"""Fashion-MNIST from the four standard IDX ``.gz`` files, offline first.

Where the files are looked for, in order: an explicit folder, ``$BNVIZ_DATA``, the user cache
(``$XDG_CACHE_HOME/bnviz/fashion-mnist``, default ``~/.cache/...``) and Debian's
``/usr/share/datasets/fashion-mnist`` (package ``dataset-fashion-mnist``). With ``download=True``
and a network, the official files are fetched into the cache with a progress callback and
checked. The decompressed bytes are verified with SHA-256 (Debian re-compressed the ``.gz`` files,
so only the decompressed content has one checksum everywhere). A truncated or corrupt file raises
:class:`DataError` naming the file and what to do, never silent garbage.

When no copy can be had, :func:`synthetic` makes a small 10-class 28×28 set; the returned
:class:`Dataset` says ``synthetic=True`` so every page can label it.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bnviz.errors import KeyedError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
CLASSES_EN = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class FileSpec(NamedTuple):
    name: str  # file name of the .gz
    sha256: str  # of the decompressed bytes
    size: int  # decompressed bytes
    gz_md5: str  # of the official download (Debian's copies differ)


FILES = {
    "train_images": FileSpec("train-images-idx3-ubyte.gz",
                             "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                             47_040_016, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": FileSpec("train-labels-idx1-ubyte.gz",
                             "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                             60_008, "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": FileSpec("t10k-images-idx3-ubyte.gz",
                            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                            7_840_016, "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": FileSpec("t10k-labels-idx1-ubyte.gz",
                            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                            10_008, "bb300cfdad3c16e7a12a480ee83cd310"),
}


class DataError(KeyedError, RuntimeError):
    """A user-facing data problem: ``key`` names the message, ``params`` fill it."""


class Dataset(NamedTuple):
    x_train: np.ndarray  # uint8 (N, 28, 28)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""  # folder the files came from, or "synthetic"
    synthetic: bool = False


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bnviz" / "fashion-mnist"


def candidates(folder: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched, in order."""
    found = [Path(folder)] if folder else []
    if os.environ.get("BNVIZ_DATA"):
        found.append(Path(os.environ["BNVIZ_DATA"]))
    return found + [cache_dir(), DEBIAN_DIR]


def has_files(folder: Path) -> bool:
    return all((folder / spec.name).is_file() for spec in FILES.values())


def find(folder: str | os.PathLike | None = None) -> Path | None:
    """First folder that holds all four files, or None."""
    return next((c for c in candidates(folder) if has_files(c)), None)


def parse_idx(raw: bytes, name: str = "data") -> np.ndarray:
    """An IDX file (big-endian header: 0, 0, type 0x08 = ubyte, ndim; then the dims) as uint8."""
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise DataError("data_bad_header", file=name)
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise DataError("data_truncated", file=name, got=len(raw), want=head)
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    want = head + int(np.prod(dims))
    if len(raw) != want:
        raise DataError("data_truncated", file=name, got=len(raw), want=want)
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(dims)


def read_idx_gz(path: Path, spec: FileSpec | None = None, *, verify: bool = True) -> np.ndarray:
    """Decompress, verify (SHA-256 of the decompressed bytes when ``spec`` is given) and parse."""
    try:
        with gzip.open(path, "rb") as fh:
            raw = bytearray(fh.read())  # writable, so torch can share it without a copy
    except FileNotFoundError:
        raise DataError("data_missing_file", file=str(path)) from None
    except (OSError, EOFError, zlib.error) as exc:  # truncated / not gzip
        raise DataError("data_corrupt", file=str(path), reason=str(exc)) from None
    array = parse_idx(raw, str(path))  # structural problems first: they say more
    if spec is not None and verify:
        if len(raw) != spec.size or hashlib.sha256(raw).hexdigest() != spec.sha256:
            raise DataError("data_checksum", file=str(path), got=len(raw), want=spec.size)
    return array


def read_folder(folder: str | os.PathLike, *, verify: bool = True,
                files: dict[str, FileSpec] = FILES) -> Dataset:
    folder = Path(folder)
    arrays = {key: read_idx_gz(folder / spec.name, spec, verify=verify)
              for key, spec in files.items()}
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError("data_shapes", file=str(folder / files[f"{part}_images"].name))
    return Dataset(arrays["train_images"], arrays["train_labels"].astype(np.int64),
                   arrays["test_images"], arrays["test_labels"].astype(np.int64),
                   source=str(folder), synthetic=False)


def download(dest: str | os.PathLike | None = None, *, base_url: str = URL,
             progress: Callable[[str, int, int], None] | None = None,
             timeout: float = 30.0, files: dict[str, FileSpec] = FILES) -> Path:
    """Fetch the four official files into ``dest`` (default: the cache), checking each.

    ``progress(file_name, bytes_done, bytes_total)`` is called as data arrives. A file is moved
    into place only after its MD5 (of the .gz) and SHA-256 (of its content) match.
    """
    dest = Path(dest) if dest else cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    for spec in files.values():
        target = dest / spec.name
        if target.is_file():
            try:
                read_idx_gz(target, spec)
                continue
            except DataError:
                target.unlink()
        fd, tmp = tempfile.mkstemp(dir=dest, suffix=".part")
        try:
            md5 = hashlib.md5()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(base_url + spec.name,
                                                                     timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    md5.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(spec.name, done, total)
            if md5.hexdigest() != spec.gz_md5:
                raise DataError("data_checksum", file=base_url + spec.name, got=done,
                                want=total or spec.size)
            read_idx_gz(Path(tmp), spec)
            shutil.move(tmp, target)
        except OSError as exc:
            raise DataError("data_download", file=spec.name, reason=str(exc)) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return dest


def synthetic(n_train: int = 6000, n_test: int = 1000, seed: int = 0) -> Dataset:
    """A small built-in 10-class 28×28 set, learnable but clearly not Fashion-MNIST.

    Class k is a bright shape (bars, boxes, rings, crosses, diagonals) with random offset,
    brightness and noise, so a LeNet can learn it in a few epochs.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)

    def shape(k: int, dx: float, dy: float) -> np.ndarray:
        x, y = xx - 13.5 - dx, yy - 13.5 - dy
        r = np.hypot(x, y)
        masks = (
            np.abs(x) < 2,                               # vertical bar
            np.abs(y) < 2,                               # horizontal bar
            (np.abs(x) < 8) & (np.abs(y) < 8),           # filled box
            (r > 6) & (r < 9),                           # ring
            (np.abs(x) < 2) | (np.abs(y) < 2),           # cross
            np.abs(x - y) < 2,                           # diagonal
            np.abs(x + y) < 2,                           # anti-diagonal
            r < 5,                                       # disc
            (np.abs(x) < 10) & (np.abs(y) < 10) & ~((np.abs(x) < 7) & (np.abs(y) < 7)),  # frame
            (y > 0) & (np.abs(x) < 10),                  # lower half block
        )
        return masks[k].astype(np.float32)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        images = np.empty((n, 28, 28), np.uint8)
        for i, k in enumerate(labels):
            img = shape(int(k), *rng.uniform(-3, 3, 2)) * rng.uniform(150, 255)
            img += rng.normal(0, 25, (28, 28))
            images[i] = np.clip(img, 0, 255).astype(np.uint8)
        return images, labels.astype(np.int64)

    x_train, y_train = make(n_train)
    x_test, y_test = make(n_test)
    return Dataset(x_train, y_train, x_test, y_test, source="synthetic", synthetic=True)


def load_fashion_mnist(folder: str | os.PathLike | None = None, *, download_missing: bool = False,
                       progress: Callable[[str, int, int], None] | None = None,
                       fallback_synthetic: bool = False, verify: bool = True) -> Dataset:
    """Fashion-MNIST as ``(x_train, y_train, x_test, y_test, source, synthetic)``.

    Looks in :func:`candidates`; with ``download_missing`` fetches into the cache when none has
    the files. If none can be had, returns :func:`synthetic` when ``fallback_synthetic`` is set,
    else raises :class:`DataError` (``data_not_found``). A corrupt file is always an error: a
    broken copy is something to fix, not to paper over. A copy is read once per process while its
    files stay as they are: its arrays are shared by every caller, who must not change them.
    """
    where = find(folder)
    if where is None and download_missing:
        try:
            where = download(progress=progress)
        except DataError:
            if not fallback_synthetic:
                raise
    if where is None:
        if fallback_synthetic:
            return synthetic()
        raise DataError("data_not_found", folders=", ".join(map(str, candidates(folder))))
    return _read_kept(str(where), verify, _stamp(where))


def _stamp(folder: Path) -> tuple:
    """Each file's inode, size and modification time: a copy replaced or changed is read anew."""
    stats = [(folder / spec.name).stat() for spec in FILES.values()]
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in stats)


@functools.lru_cache(maxsize=2)
def _read_kept(folder: str, verify: bool, stamp: tuple) -> Dataset:
    """A folder's set read once per process while its files stay as they were (decompressing and
    checking the four files takes ~0.5 s of CPU): every page, job and worker of a process shares
    it, as the server's pages already did. A failed read is not kept (it raises)."""
    return read_folder(folder, verify=verify)
