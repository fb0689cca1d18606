"""A real ``leadtrail serve`` process on loopback, for tests that kill and restart servers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port


class ServeProcess:
    def __init__(self, env: dict[str, str], log: Path | None = None) -> None:
        self.env = env
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self.log is not None:
            with open(self.log, "ab") as out:  # the child keeps its own copy of the fd
                self.proc = self._spawn(out)
        else:
            self.proc = self._spawn(subprocess.DEVNULL)
        async with httpx.AsyncClient() as http:
            for _ in range(1200):
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert self.proc.poll() is None, "server exited during start"
                await asyncio.sleep(0.05)  # a port in another process: nothing to await
        raise AssertionError("server did not become ready")

    def _spawn(self, out: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "leadtrail", "serve", "--port", str(self.port)],
            env=self.env, stdout=out, stderr=out,
        )  # fmt: skip

    def kill(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)
