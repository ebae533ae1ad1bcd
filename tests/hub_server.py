"""A local stand-in for the Hugging Face Hub's file-resolve API, for tests (loopback only).

``hf_hub_download`` (and so ``PyTorchModelHubMixin.from_pretrained``) only ever asks the Hub
``HEAD`` then ``GET /{repo_id}/resolve/{revision}/{filename}``. This server answers those
for folders on disk, with the headers huggingface_hub reads (see ``_file_headers``), and
records every request so a test can check which files were fetched::

    with serve_hub({"photonas/test-model": folder}) as hub:
        env["HF_ENDPOINT"] = hub.endpoint    # then load in a subprocess
    assert hub.fetched("photonas/test-model") == ["config.json", "model.safetensors"]

The server listens on 127.0.0.1 at a free port, in a background thread, and stops when the
``with`` block exits.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Request:
    """One request the server saw; ``repo_id``/``filename`` are empty off the resolve API."""

    method: str
    path: str
    status: int
    repo_id: str = ""
    filename: str = ""


@dataclass
class LocalHub:
    """A running server: where it listens and what it was asked."""

    endpoint: str  # the value for HF_ENDPOINT, e.g. "http://127.0.0.1:54321"
    repos: dict[str, Path]
    requests: list[Request] = field(default_factory=list)

    def fetched(self, repo_id: str) -> list[str]:
        """Files of ``repo_id`` served in full (200 on GET), in request order."""
        return [r.filename for r in self.requests if r.method == "GET" and r.status == 200 and r.repo_id == repo_id]


def repo_commit(folder: Path) -> str:
    """A stable 40-hex "commit" for a folder: changes whenever any served file does."""
    digest = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _handler(hub: LocalHub, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so no thread outlives the client.
        protocol_version = "HTTP/1.0"

        def do_HEAD(self) -> None:
            self._resolve(send_body=False)

        def do_GET(self) -> None:
            self._resolve(send_body=True)

        def _resolve(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            repo_id, sep, rest = path.lstrip("/").partition("/resolve/")
            revision, _, filename = rest.partition("/")
            if not sep or repo_id not in hub.repos or not filename:
                # Anything but /{repo}/resolve/{rev}/{file} of a served repo: unknown repo.
                return self._error(404, "RepoNotFound", path, repo_id if sep else "")
            folder = hub.repos[repo_id]
            commit = repo_commit(folder)
            if revision not in ("main", commit):
                return self._error(404, "RevisionNotFound", path, repo_id, commit)
            file = folder / filename
            if not file.is_file() or not file.resolve().is_relative_to(folder.resolve()):
                return self._error(404, "EntryNotFound", path, repo_id, commit, filename)
            data = file.read_bytes()
            self._record(path, 200, repo_id, filename)
            self.send_response(200)
            for name, value in _file_headers(data, commit).items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def _error(self, status: int, code: str, path: str, repo_id: str, commit: str = "", filename: str = "") -> None:
            self._record(path, status, repo_id, filename)
            self.send_response(status)
            # huggingface_hub maps X-Error-Code to its exceptions (utils/_http.py: hf_raise_for_status):
            # EntryNotFound → RemoteEntryNotFoundError, RevisionNotFound, RepoNotFound → ….
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", f"{code}: {path}")
            if commit:  # the Hub sends it with EntryNotFound, so the miss is cached under .no_exist/{commit}
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _record(self, path: str, status: int, repo_id: str, filename: str) -> None:
            with lock:
                hub.requests.append(Request(self.command, path, status, repo_id, filename))

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            pass  # requests are recorded in hub.requests; keep pytest output clean

    return Handler


def _file_headers(data: bytes, commit: str) -> dict[str, str]:
    """What ``get_hf_file_metadata`` needs from a HEAD (and ``http_get`` from a GET).

    - ``X-Repo-Commit``: required; without it the download fails with FileMetadataError
      ("does not seem to be served by a Hugging Face Hub endpoint"). Names the snapshot folder.
    - ``ETag``: required (FileMetadataError "does not have an ETag" otherwise); names the blob.
      The Hub sends the sha256 of LFS files as ``X-Linked-Etag``; it is read first, then ETag.
    - ``Content-Length``: the expected size, checked after download ("Consistency check failed").
    - No ``X-Xet-Hash`` / ``X-Xet-Refresh-Route`` / ``Link: <…>; rel="xet-auth"``: any of those
      sends the download to the Xet protocol (``hf_xet``), which this server does not speak.
    """
    return {
        "X-Repo-Commit": commit,
        "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
        "Content-Length": str(len(data)),
        "Content-Type": "application/octet-stream",
    }


@contextmanager
def serve_hub(repos: Mapping[str, Path | str]) -> Iterator[LocalHub]:
    """Serve ``{repo_id: folder}`` as Hub model repos on 127.0.0.1 until the block exits."""
    hub = LocalHub(endpoint="", repos={repo_id: Path(folder) for repo_id, folder in repos.items()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub, threading.Lock()))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    hub.endpoint = f"http://{host}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
