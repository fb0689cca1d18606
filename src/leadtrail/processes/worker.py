"""Entry of one API worker process of ``leadtrail serve --workers N``.

uvicorn's supervisor starts each worker as a fresh interpreter (``spawn``) and passes it
the listening socket; the worker imports this module by name and calls :func:`app`. Its
settings come from the environment the supervisor prepared (``LEADTRAIL_ROLE=api``, host,
port), so every worker, and every replacement of one that died, is configured alike.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

from fastapi import FastAPI

from leadtrail.config import Settings
from leadtrail.web.http_protocol import DeadlineProtocol


class WorkerHttpProtocol(DeadlineProtocol):
    """The deadline protocol by import path (a class made at run time cannot be pickled to
    a spawned worker); :func:`app` sets the deadlines from settings before any request."""


def app() -> FastAPI:
    """The leadtrail app of this worker (a uvicorn factory)."""
    from leadtrail import redact
    from leadtrail.app import create_app

    settings = Settings()
    if settings.node_id:  # leases and heartbeats need one name per process
        settings = settings.model_copy(update={"node_id": f"{settings.node_id}:{os.getpid()}"})
    redact.install()
    logging.basicConfig(
        level=settings.log_level.upper(),
        # several workers write to one stream: each line names its process
        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s",
        stream=sys.stderr,
    )
    WorkerHttpProtocol.header_timeout = settings.http_header_timeout
    WorkerHttpProtocol.body_timeout = settings.http_body_timeout
    built = create_app(settings)
    gc.freeze()  # as in one-process serve: long-lived objects out of the cyclic collector
    return built
