"""How ``leadtrail serve`` runs uvicorn, in one place (the CLI and tests use it)."""

from __future__ import annotations

from typing import Any

import uvicorn

from leadtrail.config import Settings
from leadtrail.web.http_protocol import with_deadlines
from leadtrail.web.ws_protocol import CoalescingWebSocketsProtocol


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        # httptools, with deadlines for request headers and bodies (slowloris)
        "http": with_deadlines(settings.http_header_timeout, settings.http_body_timeout),
        "timeout_keep_alive": settings.http_keep_alive_timeout,
        "log_level": settings.log_level,
        "access_log": False,  # leadtrail.access logs requests
        # X-Forwarded-For is read by leadtrail for LEADTRAIL_TRUSTED_PROXIES
        "proxy_headers": False,
        "timeout_graceful_shutdown": 10,
        "lifespan": "on",
        # Compressing every realtime push per subscriber cost half the CPU of a fan-out
        # (bench/realtime.py); Supabase-style frames are small and mostly unique.
        "ws_per_message_deflate": False,
        # uvicorn's sans-I/O websockets protocol waits while the socket's buffer is full, so
        # a slow realtime client backs up into its bounded queue (and is cut off) instead of
        # into unbounded buffers; ours also sends the frames of one loop turn in one write().
        "ws": CoalescingWebSocketsProtocol,
    }
    return uvicorn.Config(app, **(options | overrides))
