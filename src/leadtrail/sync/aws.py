"""boto3 clients for the sync, made once per region (boto3 clients are thread-safe; the
sync calls them from worker threads)."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)


class Clients:
    def __init__(self, endpoint_url: str | None, default_region: str) -> None:
        self._endpoint = endpoint_url
        self._region = default_region
        self._made: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str, region: str | None) -> Any:
        key = (service, region or self._region)
        with self._lock:
            client = self._made.get(key)
            if client is None:
                client = boto3.session.Session().client(
                    service, region_name=key[1], endpoint_url=self._endpoint, config=_RETRIES
                )
                self._made[key] = client
            return client

    def dynamodb(self, region: str | None = None) -> Any:
        return self._client("dynamodb", region)

    def streams(self, region: str | None = None) -> Any:
        return self._client("dynamodbstreams", region)
