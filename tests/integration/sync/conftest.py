"""A real DynamoDB-compatible server (moto in server mode, streams included) on loopback
for the sync tests, and helpers to make tables and sites."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import free_port

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def dynamodb_url() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name, value in AWS_ENV.items():
        os.environ.setdefault(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def client(url: str, service: str = "dynamodb", region: str = "us-east-1") -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region)


def create_table(
    url: str, name: str, hash_key: str, range_key: str | None = None, region: str = "us-east-1"
) -> str:
    """A table with a NEW_AND_OLD_IMAGES stream; returns the stream ARN."""
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    attrs = [{"AttributeName": hash_key, "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        attrs.append({"AttributeName": range_key, "AttributeType": "S"})
    out = client(url, region=region).create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attrs,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(out["TableDescription"]["LatestStreamArn"])


def stream_records(url: str, arn: str, region: str = "us-east-1") -> list[dict[str, Any]]:
    """Every record of the stream, in order (as the reader would see them)."""
    streams = client(url, "dynamodbstreams", region)
    out: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            out.extend(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return out
