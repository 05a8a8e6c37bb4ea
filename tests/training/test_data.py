import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from training.__main__ import main
from training.datasets.mnist import FILES, IMAGE_MAGIC, LABEL_MAGIC, DatasetError, load_idx_dir, read_idx


def _write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trips_images_and_labels(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28) % 256
    _write_idx(tmp_path / "i.gz", IMAGE_MAGIC, images)
    _write_idx(tmp_path / "l.gz", LABEL_MAGIC, np.array([1, 2, 3]))
    np.testing.assert_array_equal(read_idx(tmp_path / "i.gz", IMAGE_MAGIC), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "l.gz", LABEL_MAGIC), [1, 2, 3])


def test_swapped_files_are_caught_by_the_magic_number(tmp_path):
    _write_idx(tmp_path / "l.gz", LABEL_MAGIC, np.array([1, 2, 3]))
    with pytest.raises(DatasetError, match="magic number 2049, expected 2051"):
        read_idx(tmp_path / "l.gz", IMAGE_MAGIC)


def test_truncated_file_is_caught_by_its_size(tmp_path):
    path = tmp_path / "i.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">4I", IMAGE_MAGIC, 10, 28, 28) + b"\0" * 100)
    with pytest.raises(DatasetError, match="expected 7856"):
        read_idx(path, IMAGE_MAGIC)


def test_corrupt_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "i.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(path, IMAGE_MAGIC)


def test_missing_directory_and_missing_file_name_what_was_looked_for(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_idx_dir(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=FILES["train_images"]):
        load_idx_dir(tmp_path)


def test_cli_reports_a_bad_data_dir_in_one_line_without_traceback(tmp_path, capsys):
    assert main(["mlp", "--data-dir", str(tmp_path / "nowhere"), "--model-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"error: MNIST directory {tmp_path / 'nowhere'} does not exist"]


def test_real_mnist_files_load_with_the_canonical_sizes(mnist_dir):
    data = load_idx_dir(mnist_dir)
    assert data.x_train.shape == (60_000, 28, 28)
    assert data.x_test.shape == (10_000, 28, 28)
    assert set(np.unique(data.y_test)) == set(range(10))
    assert len(data.sha256) == 64
