"""A Hugging Face Hub stand-in on 127.0.0.1 for tests: ``olah`` serving local git repositories.

olah (PyPI ``olah``, a Hub mirror) answers the requests ``hf_hub_download`` makes
(``HEAD``/``GET /{org}/{repo}/resolve/{revision}/{file}`` with ``X-Repo-Commit`` and ``ETag``
headers, plus ``/api/models/...``) from git repositories found at
``<mirrors-path>/models/<org>/<repo>``. What we learnt reading ``olah/mirror/repos.py``:

- files are ordinary git blobs: no git-LFS is needed (olah reads LFS only when a 120-150 byte
  blob parses as a pointer, and then from ``.git/lfs/objects``);
- ``[accessibility] offline = true`` keeps it from contacting huggingface.co;
- it is read-only: it cannot accept uploads, so push paths are tested with mocks instead;
- an unknown revision makes it answer HTTP 500, which the client retries for ~25 s: tests of
  missing revisions use an offline Hugging Face cache instead.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_GIT = ["git", "-c", "user.name=bna_zoo tests", "-c", "user.email=tests@bna-zoo.invalid",
        "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def git_repo(mirrors: Path, repo_id: str, files: dict[str, bytes]) -> str:
    """Create ``<mirrors>/models/<org>/<name>`` as a git repo with ``files``; return the commit."""
    path = mirrors / "models" / repo_id
    path.mkdir(parents=True)
    subprocess.run([*_GIT, "init", "-q"], cwd=path, check=True)
    for name, data in files.items():
        (path / name).write_bytes(data)
    subprocess.run([*_GIT, "add", *files], cwd=path, check=True)
    subprocess.run([*_GIT, "commit", "-q", "-m", "upload"], cwd=path, check=True)
    out = subprocess.run([*_GIT, "rev-parse", "HEAD"], cwd=path, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def olah_hub(mirrors: Path, workdir: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run olah on a free local port serving the repos under ``mirrors``; yield its URL.

    The server is this process's child and is terminated on exit, whatever happens.
    """
    port = _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "olah.toml"
    config.write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{workdir / "repos"}"\n'
        f'mirrors-path = ["{mirrors}"]\n[accessibility]\noffline = true\n'
    )
    log = open(workdir / "olah.log", "wb")  # closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "olah.server", "-c", str(config),
         "--log-path", str(workdir / "logs")],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"olah exited with {proc.returncode}: "
                                   f"{(workdir / 'olah.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError as err:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"olah did not listen on port {port} within {timeout} s"
                                       ) from err
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
