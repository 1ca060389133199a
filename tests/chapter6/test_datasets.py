"""tinygrad6.datasets: the IDX reader on good and broken files, the download path against a local HTTP server
(right, corrupted and interrupted files), the MNIST loaders, digits, train_val_split and batches.

No test touches the network: downloads go to http://127.0.0.1 only. The real MNIST test set is read from
$TINYGRAD6_TEST_MNIST (a folder with t10k-*-ubyte.gz); those tests skip when it is absent."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mnist_files import (
    MNIST_DIR,
    MNIST_VARIABLE,
    fake_mnist,
    idx_bytes,
    mnist_skip_reason,
    needs_mnist,
    write_idx,
)

from tinygrad6 import datasets


# -- read_idx -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype, shape", [(np.uint8, (5, 28, 28)), (np.int8, (7,)), (">i2", (3, 4)),
                                          (">i4", (2, 3, 2)), (">f4", (6,)), (">f8", (2, 2, 2, 2))])
def test_read_idx_round_trips_every_dtype(tmp_path, gz, dtype, shape):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    got = datasets.read_idx(write_idx(tmp_path / "a.idx", array, gz=gz))
    assert got.shape == shape
    np.testing.assert_array_equal(got, array)
    assert got.dtype.isnative and got.flags.writeable


def test_read_idx_rejects_a_truncated_payload(tmp_path):
    raw = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(ValueError, match=r"short\.gz.*truncated.*7840 bytes.*7740"):
        datasets.read_idx(path)


def test_read_idx_rejects_trailing_bytes(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00\x01")
    with pytest.raises(ValueError, match=r"long\.idx.*trailing bytes.*need 5 bytes.*has 7"):
        datasets.read_idx(path)


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b"PK\x03\x04"])
def test_read_idx_rejects_a_wrong_magic_number(tmp_path, magic):
    path = tmp_path / "bad.idx"
    path.write_bytes(magic + np.array([3], dtype=">u4").tobytes() + b"abc")
    with pytest.raises(ValueError, match=r"bad\.idx.*bad magic number"):
        datasets.read_idx(path)


def test_read_idx_rejects_a_cut_header_and_a_broken_gzip(tmp_path):
    path = tmp_path / "header.idx"
    path.write_bytes(b"\x00\x00\x08\x03" + np.array([10, 28], dtype=">u4").tobytes())  # 3 dims, only 2 given
    with pytest.raises(ValueError, match=r"header\.idx.*3 dimensions.*ends after 12 bytes"):
        datasets.read_idx(path)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 7))[:20])
    with pytest.raises(ValueError, match=r"cut\.gz.*not a valid gzip file"):
        datasets.read_idx(gz)
    tiny = tmp_path / "tiny.idx"
    tiny.write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match=r"tiny\.idx.*too short"):
        datasets.read_idx(tiny)


# -- loading MNIST from a folder ----------------------------------------------------------------------------------
def test_mnist_loads_a_folder_with_the_books_options(tmp_path):
    fake_mnist(tmp_path, n_train=50, n_test=20)
    (x_train, t_train), (x_test, t_test) = datasets.mnist(tmp_path, download=False)
    assert x_train.shape == (50, 784) and x_test.shape == (20, 784) and x_train.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0 and x_train.max() > 0.9
    assert t_train.shape == (50,) and t_train.dtype == np.int64
    raw = datasets.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_allclose(x_train[3], raw[3].ravel() / 255.0, rtol=1e-6)

    (x, t), _ = datasets.mnist(tmp_path, download=False, normalize=False, flatten=False, one_hot=True)
    assert x.shape == (50, 1, 28, 28) and x.dtype == np.uint8
    assert t.shape == (50, 10) and np.all(t.sum(axis=1) == 1)
    np.testing.assert_array_equal(t.argmax(axis=1), t_train)


def test_mnist_without_download_says_where_the_files_go(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"train-images-idx3-ubyte.gz.*not found in {tmp_path}.*download"):
        datasets.mnist(tmp_path, download=False)
    fake_mnist(tmp_path, test_only=True)
    with pytest.raises(FileNotFoundError, match=r"Only the test set.*mnist_test_split"):
        datasets.mnist(tmp_path, download=False)


def test_mnist_root_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    fake_mnist(tmp_path, n_train=12, n_test=8)
    monkeypatch.setenv("TINYGRAD6_DATA", str(tmp_path))
    assert datasets.default_root() == tmp_path
    (x_train, _), (x_test, _) = datasets.mnist(download=False)
    assert len(x_train) == 12 and len(x_test) == 8
    monkeypatch.delenv("TINYGRAD6_DATA")
    assert datasets.default_root() == Path.home() / ".cache" / "tinygrad6" / "mnist"


def test_a_broken_cached_file_is_reported_not_used(tmp_path):
    fake_mnist(tmp_path)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(19, dtype=np.uint8))))  # 19 labels for 20 images
    with pytest.raises(ValueError, match=r"t10k-labels.*expected 20 uint8 labels"):
        datasets.mnist(tmp_path, download=False)
    labels.write_bytes(gzip.compress(idx_bytes(np.zeros(20, dtype=np.uint8)))[:-8])
    with pytest.raises(ValueError, match=r"t10k-labels.*gzip"):
        datasets.mnist(tmp_path, download=False)


def test_mnist_test_split_shuffles_and_splits_the_test_set(tmp_path):
    fake_mnist(tmp_path, n_test=100, test_only=True)
    (x_train, t_train), (x_test, t_test) = datasets.mnist_test_split(tmp_path, train_size=80)
    assert x_train.shape == (80, 784) and x_test.shape == (20, 784)
    raw = datasets.read_idx(tmp_path / "t10k-images-idx3-ubyte.gz").reshape(100, -1)
    rows = {r.tobytes(): i for i, r in enumerate(raw)}
    used = [rows[(x * 255).round().astype(np.uint8).tobytes()] for x in np.concatenate([x_train, x_test])]
    assert sorted(used) == list(range(100))  # a partition of the 100 images
    assert used[:80] != list(range(80))  # shuffled, not the first 80
    raw_labels = datasets.read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(np.concatenate([t_train, t_test]), raw_labels[used])
    assert datasets.mnist_files(tmp_path) == "test"
    assert datasets.mnist_files(tmp_path / "nowhere") is None


# -- downloading from a local server ------------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []
    redirects: dict[str, str] = {}  # mode -> base URL that /mode/NAME redirects to
    trickled = 0  # bytes the slow modes sent: how long a client listened, counted rather than timed
    stop = threading.Event()  # set when the test ends: the slow modes stop sending
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.requests.append(self.path)
        mode, _, name = self.path.strip("/").partition("/")
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        if mode == "slowheaders":  # connects, then trickles its status line and headers a byte at a time
            for byte in b"HTTP/1.0 200 OK\r\nX-Slow: " + b"x" * 10_000:
                if self.stop.wait(0.05):
                    return
                _Handler.trickled += 1
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            return
        if mode == "stall":  # connects, reads the request, then sends nothing at all
            self.stop.wait(30)
            return
        if mode in self.redirects:  # elsewhere: another scheme (ftp://, file://)
            self.send_response(302)
            self.send_header("Location", self.redirects[mode] + name)
            self.end_headers()
            return
        if mode == "corrupt":
            body = body[:-5] + bytes(b ^ 0xFF for b in body[-5:])
        if mode == "endless":  # the file, then zeros for ever, with no Content-Length to say when to stop
            self.send_response(200)
            self.end_headers()
            while not self.stop.is_set():
                self.wfile.write(bytes(1 << 16))
            return
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 40 if mode == "announce" else len(body)))
        self.end_headers()
        if mode == "interrupted":  # promise the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "trickle":  # one byte every 50 ms: each read is quick, the whole never arrives
            for byte in body:
                if self.stop.wait(0.05):
                    return
                _Handler.trickled += 1
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            return
        self.wfile.write(body)

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1: /good/NAME serves a file, /corrupt/NAME a damaged copy, /interrupted/NAME
    half of it (with the full Content-Length), /trickle/NAME one byte every 50 ms, /slowheaders/NAME its headers
    that way, /stall/NAME nothing, /endless/NAME the file and then zeros without end, /announce/NAME a
    Content-Length of 1 TiB. Yields (base URL, files dict, MD5 table)."""
    files = fake_mnist(tmp_path / "served", n_train=30, n_test=10)
    md5 = {name: hashlib.md5(body).hexdigest() for name, body in files.items()}
    with serving(files) as base:
        yield base, files, md5


@contextlib.contextmanager
def serving(files: dict[str, bytes]) -> Iterator[str]:
    """Serve `files` through _Handler on 127.0.0.1 inside the block; yields the base URL."""
    _Handler.files, _Handler.requests = files, []
    _Handler.stop.clear()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    # serve_forever notices shutdown() only between polls: a short interval makes the teardown immediate
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        _Handler.stop.set()
        httpd.shutdown()
        httpd.server_close()


def test_a_download_without_tqdm_draws_no_bar(server, tmp_path, monkeypatch, capsys):
    base, files, md5 = server
    monkeypatch.setitem(sys.modules, "tqdm", None)  # tqdm (the `examples` extra) missing
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    path = datasets.fetch(NAME, tmp_path, mirrors=[base + "good/"], md5=md5, progress=True)
    assert path.read_bytes() == files[NAME]
    assert capsys.readouterr() == ("", "")


def test_the_real_mnist_tests_skip_only_without_the_variable(tmp_path):
    assert mnist_skip_reason({}, default=tmp_path) is not None  # no files and no variable: skip, saying how
    reason = mnist_skip_reason({}, default=tmp_path)
    assert "TINYGRAD6_TEST_MNIST" in reason and "datasets.mnist()" in reason  # what a user does
    assert str(tmp_path) not in reason and "shared" not in reason  # not the development layout
    fake_mnist(tmp_path, test_only=True)
    assert mnist_skip_reason({}, default=tmp_path) is None  # the files beside the clone: run
    assert mnist_skip_reason({MNIST_VARIABLE: str(tmp_path / "nowhere")}, default=tmp_path / "nowhere") is None


def test_the_readme_says_how_to_run_the_torch_and_mnist_tests():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parents[2]
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.startswith("torch") for req in extras["torch"])
    readme = (root / "README.md").read_text()
    tests_paragraph = readme[readme.index("To run the tests:"):readme.index("## Ten lines")]
    assert '".[dev,examples,torch]"' in tests_paragraph and MNIST_VARIABLE in tests_paragraph
    ci = (root / ".ci/run").read_text()
    assert MNIST_VARIABLE in ci


NAME = "t10k-labels-idx1-ubyte.gz"


def test_fetch_downloads_verifies_and_renames(server, tmp_path):
    base, files, md5 = server
    root = tmp_path / "cache"
    path = datasets.fetch(NAME, root, mirrors=[base + "good/"], md5=md5, progress=False)
    assert path == root / NAME and path.read_bytes() == files[NAME]
    assert os.listdir(root) == [NAME]  # no temporary file left behind


def test_a_corrupted_download_is_rejected_and_not_left_in_the_cache(server, tmp_path):
    base, _, md5 = server
    root = tmp_path / "cache"
    with pytest.raises(datasets.DownloadError, match=r"MD5 mismatch.*expected " + md5[NAME]):
        datasets.fetch(NAME, root, mirrors=[base + "corrupt/"], md5=md5, progress=False)
    assert os.listdir(root) == []


def test_an_interrupted_download_is_rejected_and_not_left_in_the_cache(server, tmp_path):
    base, files, _ = server
    root = tmp_path / "cache"
    with pytest.raises(datasets.DownloadError, match=rf"incomplete download: got {len(files[NAME]) // 2} of "
                                                     rf"{len(files[NAME])} bytes"):
        datasets.fetch(NAME, root, mirrors=[base + "interrupted/"], md5={}, progress=False)  # even without MD5
    assert os.listdir(root) == []


def test_the_next_mirror_is_tried_after_a_bad_one(server, tmp_path):
    base, files, md5 = server
    root = tmp_path / "cache"
    datasets.fetch(NAME, root, mirrors=[base + "corrupt/", base + "interrupted/", base + "good/"], md5=md5,
                   progress=False)
    assert (root / NAME).read_bytes() == files[NAME]
    assert _Handler.requests == [f"/corrupt/{NAME}", f"/interrupted/{NAME}", f"/good/{NAME}"]


def test_mnist_downloads_the_missing_files_through_the_mirror_list(server, tmp_path, monkeypatch):
    base, files, md5 = server
    monkeypatch.setattr(datasets, "MIRRORS", [base + "good/"])
    monkeypatch.setattr(datasets, "MD5", md5)
    root = tmp_path / "cache"
    root.mkdir()
    (root / NAME).write_bytes(files[NAME])  # one file already cached: used as it is, not fetched again
    (x_train, t_train), (x_test, t_test) = datasets.mnist(root)
    assert x_train.shape == (30, 784) and x_test.shape == (10, 784)
    assert sorted(os.listdir(root)) == sorted(files)
    assert f"/good/{NAME}" not in _Handler.requests and len(_Handler.requests) == 3


def test_the_published_md5_table_is_the_default(server, tmp_path, monkeypatch):
    base, _, _ = server
    assert datasets.MD5["t10k-labels-idx1-ubyte.gz"] == "ec29112dd5afa0611ce80d1b7f02629c"
    assert datasets.MIRRORS[0].startswith("https://ossci-datasets.s3.amazonaws.com/")
    monkeypatch.setattr(datasets, "MIRRORS", [base + "good/"])
    with pytest.raises(datasets.DownloadError, match="MD5 mismatch"):  # our generated file is not MNIST's
        datasets.fetch(NAME, tmp_path, progress=False)


def test_offline_is_one_clear_line(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(datasets.DownloadError) as info:
        datasets.fetch(NAME, tmp_path, mirrors=[f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"],
                       timeout=5, progress=False)
    message = str(info.value)
    assert message.startswith("mnist: offline? could not download t10k-labels-idx1-ubyte.gz")
    assert "\n" not in message and "TINYGRAD6_DATA" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__ is False and not info.value.__context__
    assert os.listdir(tmp_path) == []


def test_a_trickling_server_is_cut_off_at_the_deadline(server, tmp_path):
    base, files, md5 = server
    root = tmp_path / "cache"
    images = datasets.TEST_FILES[0]  # about 8 kB: the trickle would take 7 minutes
    for mode in ("trickle", "slowheaders"):
        _Handler.trickled = 0
        with pytest.raises(datasets.DownloadError) as info:
            datasets.fetch(images, root, mirrors=[base + mode + "/"], md5=md5, timeout=5, deadline=1.0,
                           progress=False)
        # a byte per 50 ms: about 20 in the 1 s deadline; 400 (20 s) is generous for a busy machine and far from
        # the thousands a client without a deadline takes in (no clock in the test: bytes counted)
        assert _Handler.trickled < 400, _Handler.trickled
        message = str(info.value)
        assert "offline?" not in message and "1 s deadline" in message and "\n" not in message, message
        assert "mirror" in message  # says how to use another one
        assert os.listdir(root) == []  # the .part file is gone


def test_a_stalled_server_gets_its_own_message(server, tmp_path):
    base, _, md5 = server
    root = tmp_path / "cache"
    with pytest.raises(datasets.DownloadError) as info:
        datasets.fetch(NAME, root, mirrors=[base + "stall/"], md5=md5, timeout=0.5, progress=False)
    message = str(info.value)
    assert "offline?" not in message and "connected" in message and "sent nothing for 0.5 s" in message, message
    assert os.listdir(root) == []


def test_a_download_longer_than_expected_is_cut_off(server, tmp_path):
    base, files, md5 = server
    root = tmp_path / "cache"
    for mode, what in (("endless", "more than"), ("announce", "announces 1099511627776 bytes")):
        with pytest.raises(datasets.DownloadError, match=rf"{what}.*{len(files[NAME])} bytes"):
            datasets.fetch(NAME, root, mirrors=[base + mode + "/"], md5=md5, max_bytes=len(files[NAME]),
                           progress=False)
        assert os.listdir(root) == []
    assert datasets.SIZES[NAME] == 4542 and datasets.SIZES["train-images-idx3-ubyte.gz"] == 9912422
    with pytest.raises(datasets.DownloadError, match=r"more than the 4542 bytes"):  # the published size by default
        datasets.fetch(NAME, root, mirrors=[base + "endless/"], md5=md5, progress=False)


def test_mnist_takes_a_mirror_as_argument_or_from_the_environment(server, tmp_path, monkeypatch):
    base, files, md5 = server
    monkeypatch.setattr(datasets, "MIRRORS", ["http://127.0.0.1:9/never/"])  # must not be used
    monkeypatch.setattr(datasets, "MD5", md5)
    (x_train, _), (x_test, _) = datasets.mnist(tmp_path / "a", mirror=base + "good")  # the "/" is added
    assert x_train.shape == (30, 784) and x_test.shape == (10, 784)
    assert sorted(_Handler.requests) == sorted(f"/good/{name}" for name in files)
    _Handler.requests.clear()
    monkeypatch.setenv("TINYGRAD6_MNIST_MIRROR", base + "good/")
    datasets.mnist(tmp_path / "b")
    assert sorted(_Handler.requests) == sorted(f"/good/{name}" for name in files)
    _Handler.requests.clear()
    with pytest.raises(datasets.DownloadError, match="MD5 mismatch"):  # the argument wins over the variable
        datasets.mnist(tmp_path / "c", mirror=base + "corrupt/")
    assert _Handler.requests == [f"/corrupt/{datasets.TRAIN_FILES[0]}"]


# -- digits, splitting, batching ----------------------------------------------------------------------------------
def test_digits_is_the_scikit_learn_set_in_mnist_form():
    (x_train, t_train), (x_test, t_test) = datasets.digits()
    assert x_train.shape == (1500, 64) and x_test.shape == (297, 64)
    assert 0.0 <= x_train.min() and x_train.max() == 1.0
    assert set(np.unique(t_train)) == set(range(10))
    (x, t), _ = datasets.digits(flatten=False, one_hot=True)
    assert x.shape == (1500, 1, 8, 8) and t.shape == (1500, 10)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"scikit-learn.*`examples` extra.*pip install -e \"\.\[examples\]\""):
        datasets.digits()


def test_train_val_split_shuffles_pairs_together():
    x = np.arange(100, dtype=np.float64).reshape(50, 2)
    t = np.arange(50)
    x_tr, t_tr, x_val, t_val = datasets.train_val_split(x, t, val_ratio=0.2, seed=3)
    assert len(x_val) == 10 and len(x_tr) == 40
    np.testing.assert_array_equal(x_tr[:, 0], 2 * t_tr)  # rows still belong to their labels
    np.testing.assert_array_equal(x_val[:, 0], 2 * t_val)
    assert sorted(np.concatenate([t_tr, t_val])) == list(range(50))
    assert list(t_val) != list(range(10))
    again = datasets.train_val_split(x, t, val_ratio=0.2, seed=3)
    np.testing.assert_array_equal(again[3], t_val)
    with pytest.raises(ValueError, match="val_ratio"):
        datasets.train_val_split(x, t, val_ratio=1.0)


def test_batches_cover_an_epoch_once_or_sample_like_the_book():
    x = np.arange(23, dtype=np.float64)[:, None]
    t = np.arange(23)
    got = list(datasets.batches(x, t, batch_size=5, seed=0))
    assert [len(b[1]) for b in got] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate([b[1] for b in got])) == list(range(23))
    assert all(np.array_equal(bx[:, 0], bt) for bx, bt in got)
    in_order = list(datasets.batches(x, t, batch_size=10, shuffle=False))
    np.testing.assert_array_equal(in_order[0][1], np.arange(10))
    same = list(datasets.batches(x, t, batch_size=5, seed=0))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(got, same))

    chosen = list(datasets.batches(x, t, batch_size=5, seed=0, sampling="choice"))
    assert len(chosen) == 4 and all(len(b[1]) == 5 for b in chosen)  # 23 // 5 batches of np.random.choice
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(chosen[0][1], rng.choice(23, 5))
    with pytest.raises(ValueError, match="sampling"):
        next(datasets.batches(x, t, 5, sampling="bootstrap"))


# -- the real MNIST test set --------------------------------------------------------------------------------------
@needs_mnist
def test_read_idx_parses_the_real_mnist_test_set():
    images = datasets.read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    labels = datasets.read_idx(MNIST_DIR / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert 0.1 < images.mean() / 255 < 0.15  # MNIST's mean intensity is about 0.13
    assert images[:, 0, :].max() < 50  # a digit sits in the middle: the top row of pixels is almost blank


@needs_mnist
def test_mnist_test_split_of_the_real_files():
    (x_train, t_train), (x_test, t_test) = datasets.mnist_test_split(MNIST_DIR)
    assert x_train.shape == (8000, 784) and x_test.shape == (2000, 784)
    counts = np.bincount(t_test, minlength=10)
    assert counts.min() > 150  # every digit is well represented in the 2,000 test images


@pytest.mark.parametrize("dims", [(1,) * 65, (0, 2**32 - 1, 2**32 - 1), (0,) * 255])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_refuses_dimensions_no_array_can_have(tmp_path, dims, gz):
    header = bytes([0, 0, 0x08, len(dims)]) + np.array(dims, dtype=">u4").tobytes()
    payload = header + bytes(int(np.prod(dims, dtype=object)))  # the data it declares: 1 byte, or none
    path = tmp_path / ("forged.gz" if gz else "forged")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(ValueError) as info:
        datasets.read_idx(path)
    message = str(info.value)
    assert message.startswith(f"read_idx: {path}: its header declares {len(dims)} dimensions"), message
    assert "\n" not in message and len(message) < 400


@pytest.mark.parametrize("scheme", ["ftp", "file"])
def test_a_redirect_to_another_scheme_is_refused_and_said(server, tmp_path, monkeypatch, scheme):
    base, files, md5 = server
    with socket.socket() as s:  # an ftp port nobody listens on; a file:// folder that holds the very files
        s.bind(("127.0.0.1", 0))
        elsewhere = {"ftp": f"ftp://127.0.0.1:{s.getsockname()[1]}/", "file": (tmp_path / "served").as_uri() + "/"}
    monkeypatch.setitem(_Handler.redirects, "elsewhere", elsewhere[scheme])
    root = tmp_path / "cache"
    with pytest.raises(datasets.DownloadError) as info:
        datasets.fetch(NAME, root, mirrors=[base + "elsewhere/"], md5=md5, timeout=5, progress=False)
    message = str(info.value)
    assert f"redirected to '{elsewhere[scheme]}{NAME}'" in message, message
    assert "only http:// and https://" in message and "offline?" not in message and "\n" not in message
    assert os.listdir(root) == []


@pytest.mark.parametrize("mirror", ["file", "ftp://127.0.0.1:9/", "data:text/plain,"])
def test_a_mirror_that_is_not_http_is_refused_unopened(tmp_path, mirror):
    served = tmp_path / "served"
    fake_mnist(served, n_train=30, n_test=10)
    mirror = served.as_uri() + "/" if mirror == "file" else mirror  # a folder that holds the very file
    root = tmp_path / "cache"
    with pytest.raises(datasets.DownloadError) as info:
        datasets.fetch(NAME, root, mirrors=[mirror], md5={}, timeout=5, progress=False)
    message = str(info.value)
    assert "only http:// and https:// URLs are downloaded" in message and "offline?" not in message, message
    assert os.listdir(root) == []
