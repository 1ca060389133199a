"""Downloading one file over HTTP(S) without trusting the server: a deadline for the whole transfer, a size cap, an
MD5 check, a temporary file renamed only once complete and verified, and only http:// and https:// URLs followed.

`datasets.fetch` tries MNIST's mirrors one after the other with `download_to`; `Watchdog` bounds one attempt.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .progress import progress_bar


class DownloadError(OSError):
    """No mirror gave a complete, verified copy of a file (offline, server error, or wrong contents)."""


class NotHTTPError(ValueError):
    """A mirror, or a redirect from one, names a URL that is not http:// or https:// (ftp://, file://, data:...)."""


def download_to(dest: Path, url: str, expected_md5: str | None, max_bytes: int, timeout: float, progress: bool,
                watchdog: Watchdog, check: Callable[[str], object] = lambda path: None) -> Path:
    """One attempt: stream `url` into a temporary file beside `dest`, check its length, its MD5 (unless None) and
    `check(path)` (which raises ValueError on contents it refuses), then rename it to `dest`. Whatever fails leaves
    nothing behind. A larger file than `max_bytes` is cut off; `watchdog` bounds the whole attempt."""
    require_http(url)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest = hashlib.md5()
        received = 0
        with os.fdopen(fd, "wb") as f, watchdog.open(url, timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > max_bytes:
                raise ValueError(f"the server announces {total} bytes, more than the {max_bytes} bytes expected")
            with progress_bar(total, f"downloading {dest.name}", progress, unit="B", unit_scale=True) as bar:
                while chunk := response.read(1 << 16):
                    received += len(chunk)
                    if received > max_bytes:
                        raise ValueError(f"more than the {max_bytes} bytes expected; stopped there")
                    f.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if watchdog.expired:  # the watchdog closed the connection: what arrived is not the whole file
            raise TimeoutError("deadline passed")
        if total is not None and received != total:
            raise ValueError(f"incomplete download: got {received} of {total} bytes")
        if expected_md5 is not None and digest.hexdigest() != expected_md5:
            raise ValueError(f"MD5 mismatch: got {digest.hexdigest()}, expected {expected_md5}")
        check(tmp)  # the structure must be right as well
        os.replace(tmp, dest)
        return dest
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class Watchdog:
    """The deadline of one download attempt, as a context manager.

    A socket timeout bounds each read only, so a server that sends a byte every few seconds never times out.
    When the deadline passes, the watchdog shuts down the attempt's socket from a timer thread, which ends any
    read in progress, of the headers or of the body. It also records whether a connection was made at all: only
    when none was is "offline?" a fair guess."""

    def __init__(self, seconds: float) -> None:
        self.connected = self.expired = False
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def open(self, url: str, timeout: float):
        """urllib.request.urlopen(url, timeout=timeout) through connections this watchdog watches, for http and
        https only (urllib's ftp, file and data handlers are left out; a redirect elsewhere is refused)."""
        opener = urllib.request.OpenerDirector()
        for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), _WatchedHandler(self),
                        urllib.request.HTTPDefaultErrorHandler(), _HTTPOnlyRedirects(),
                        urllib.request.HTTPErrorProcessor()):
            opener.add_handler(handler)
        return opener.open(url, timeout=timeout)

    def watch(self, sock: socket.socket) -> None:
        self.connected = True
        self._sockets.append(sock)
        if self.expired:  # the deadline passed while connecting
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed
                pass


class _WatchedConnection:
    """Mixin for http.client's connections: hands each new socket to a Watchdog."""

    def __init__(self, *args, watchdog: Watchdog, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.watchdog = watchdog

    def connect(self) -> None:
        super().connect()
        self.watchdog.watch(self.sock)


class _WatchedHTTPConnection(_WatchedConnection, http.client.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnection, http.client.HTTPSConnection):
    pass


class _WatchedHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """urllib's http and https handlers in one (build_opener then adds neither default), opening watched
    connections."""

    def __init__(self, watchdog: Watchdog) -> None:
        super().__init__()
        self.watchdog = watchdog

    def http_open(self, req):
        return self.do_open(_WatchedHTTPConnection, req, watchdog=self.watchdog)

    def https_open(self, req):
        return self.do_open(_WatchedHTTPSConnection, req, watchdog=self.watchdog)


class _HTTPOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, but only to http:// and https:// URLs (NotHTTPError otherwise)."""

    def http_error_302(self, req, fp, code, msg, headers):
        target = urllib.parse.urljoin(req.full_url, headers.get("location") or headers.get("uri") or "")
        try:
            require_http(target, redirected=True)
        except NotHTTPError:
            fp.close()
            raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def require_http(url: str, redirected: bool = False) -> None:
    """Raise NotHTTPError unless `url` is an http:// or https:// URL."""
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        what = f"the server redirected to {url[:200]!r}, which is" if redirected else "this is"
        raise NotHTTPError(f"{what} not a web address: only http:// and https:// URLs are downloaded")
