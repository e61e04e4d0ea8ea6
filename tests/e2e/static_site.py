"""A plain static file server for the e2e tests, behaving like GitHub Pages does for a project
site: files under a sub-path (`/digitlab/`), `Cache-Control: max-age=600`, and none of the
headers `build.py serve` adds (no COOP/COEP, no CSP) unless a test asks for them. The folder
it serves can be swapped while it runs (a new deploy), and it can be stopped (the network is
gone, for the service worker and the browser's cache alike)."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import build
from tests.e2e.conftest import ROOT


class StaticSite:
    """Serves `root` at http://127.0.0.1:PORT`prefix` until stop(); `root` may be reassigned."""

    def __init__(self, root: Path, prefix: str = "/", headers: dict[str, str] | None = None):
        assert prefix.startswith("/") and prefix.endswith("/")
        self.root = root
        self.prefix = prefix
        self.headers = headers or {}
        self.paths: list[str] = []  # every path requested, in order
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = build.MIME_TYPES

            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(site.root), **kwargs)

            def send_head(self):
                site.paths.append(self.path)
                # The files of one deploy are replaced at once, often within the second the
                # last one was built: answer every request in full, as an ETag-less host
                # with second-resolution dates could not.
                del self.headers["If-Modified-Since"]
                path = self.path.split("?")[0]
                if path == site.prefix.rstrip("/"):
                    self.send_response(301)
                    self.send_header("Location", site.prefix)
                    self.end_headers()
                    return None
                if not path.startswith(site.prefix):
                    self.send_error(404)
                    return None
                self.path = "/" + self.path[len(site.prefix):]
                return super().send_head()

            def end_headers(self) -> None:
                self.send_header("Cache-Control", "max-age=600")
                for name, value in site.headers.items():
                    self.send_header(name, value)
                super().end_headers()

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.origin + prefix
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)


def build_site(tree: Path, out: Path) -> Path:
    """Build the sources copied into `tree` (see copy_sources) and move the site to `out`."""
    result = subprocess.run([sys.executable, str(tree / "build.py")], cwd=tree,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    shutil.move(tree / "site", out)
    return out


def copy_sources(tree: Path) -> Path:
    """The build's inputs copied to `tree` (downloads and node_modules linked, not copied), so
    a test can change a source and build again without touching the worktree."""
    for pattern in build.SOURCE_GLOBS:
        for path in ROOT.glob(pattern):
            if path.is_file():
                target = tree / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    for name in ["node_modules", ".cache"]:
        (tree / name).symlink_to(ROOT / name)
    return tree
