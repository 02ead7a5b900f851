"""The real datasets the app uses are installed (Debian's package in CI); a missing one fails here."""

import gzip
import os
import struct
from pathlib import Path

import pytest

FASHION = Path(os.environ.get("BNVIZ_DATA", "/usr/share/datasets/fashion-mnist"))
FILES = {"train-images-idx3-ubyte.gz": (2051, 60000), "train-labels-idx1-ubyte.gz": (2049, 60000),
         "t10k-images-idx3-ubyte.gz": (2051, 10000), "t10k-labels-idx1-ubyte.gz": (2049, 10000)}


@pytest.mark.parametrize("name", sorted(FILES))
def test_fashion_mnist_file_is_installed(name):
    path = FASHION / name
    assert path.is_file(), f"{path} missing: apt-get install dataset-fashion-mnist (or set BNVIZ_DATA)"
    with gzip.open(path, "rb") as f:
        magic, count = struct.unpack(">II", f.read(8))
    assert (magic, count) == FILES[name]


def test_seattle_weather_ships_offline():
    from vega_datasets import local_data

    assert "seattle-weather" in local_data.list_datasets()
