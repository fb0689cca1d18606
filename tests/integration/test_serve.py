"""``leadtrail serve`` from nothing: embedded database, first-run banner, Ctrl-C stops both."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port


def test_serve_on_empty_data_dir_then_ctrl_c(tmp_path: Path, cli_env: dict[str, str]) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {**cli_env, "LEADTRAIL_DATA_DIR": str(data), "LEADTRAIL_EMBEDDED_SHARED_BUFFERS": "128MB"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadtrail", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)  # polling a port another process opens; there is no event to await
        assert ready is not None and ready.status_code == 200, (
            proc.stderr.read() if proc.stderr else ""
        )
        assert (data / "pg" / "postmaster.pid").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "password" in out and 'data-site-id="demo"' in out
    assert not (data / "pg" / "postmaster.pid").exists(), "embedded PostgreSQL still running"
    assert "Traceback" not in err
