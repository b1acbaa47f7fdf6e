#!/usr/bin/env python3
"""Create what the functions need in the local stack (DynamoDB Local + moto).

  .venv/bin/python scripts/provision.py [--table NAME] [--parameter NAME]

Against the endpoints in AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM /
AWS_ENDPOINT_URL_EVENTBRIDGE / AWS_ENDPOINT_URL_SQS (see scripts/stack.sh; the
last two default to the SSM one, the same moto server; region and credentials
from the usual AWS_* variables):

* creates the table TABLE_NAME (hash key `pk`, type S, PAY_PER_REQUEST, the
  keys-only list index `byCreatedAt` on `listPk`/`listSk`, and its stream
  NEW_AND_OLD_IMAGES, as in template.yaml) unless it exists, and waits until
  it is ACTIVE;
* writes (overwrites) the SecureString parameter API_KEYS_PARAMETER with the two
  local API keys, as SHA-256 hashes only:
      local-write-key  customers:read + customers:write
      local-read-key   customers:read
* creates the EventBridge bus EVENT_BUS_NAME (customers-events), the SQS queue
  EVENTS_QUEUE (customers-events) and a rule on the bus that forwards every
  change event (source customers-api) to the queue, unless they exist.

The plaintext local keys are well known on purpose (they are printed by
`make run`); only their hashes are stored.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_TABLE = "customers"
# The list index of GET /v1/customers, as in template.yaml (keys only).
LIST_INDEX = {
    "IndexName": "byCreatedAt",
    "KeySchema": [
        {"AttributeName": "listPk", "KeyType": "HASH"},
        {"AttributeName": "listSk", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
DEFAULT_PARAMETER = "/customers-api/api-keys"
DEFAULT_BUS = "customers-events"
DEFAULT_QUEUE = "customers-events"
EVENTS_RULE = "customers-events-to-queue"

# (key id, plaintext key, scopes). The plaintext never leaves this process.
LOCAL_KEYS = [
    ("local_write", "local-write-key", ["customers:read", "customers:write"]),
    ("local_read", "local-read-key", ["customers:read"]),
]


def api_keys_document() -> str:
    keys = [
        {"id": key_id, "sha256": hashlib.sha256(key.encode()).hexdigest(), "scopes": scopes}
        for key_id, key, scopes in LOCAL_KEYS
    ]
    return json.dumps({"keys": keys}, separators=(",", ":"))


def endpoint(var: str) -> str:
    url = os.environ.get(var)
    if not url:
        sys.exit(
            f"provision: {var} is not set; start the stack and load its env file "
            "(scripts/stack.sh up; set -a; . .local/<dir>/env; set +a)"
        )
    return url


def client(service: str, url: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )


def ensure_table(ddb, name: str) -> str:
    try:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "listPk", "AttributeType": "S"},
                {"AttributeName": "listSk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[LIST_INDEX],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification=STREAM,
        )
        state = "created"
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUseException":
            raise
        state = "exists"
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    keys = ddb.describe_table(TableName=name)["Table"]["KeySchema"]
    if keys != [{"AttributeName": "pk", "KeyType": "HASH"}]:
        sys.exit(f"provision: table {name!r} exists with key schema {keys}, expected hash key 'pk' only")
    # As template.yaml: idempotency records expire through `expiresAt`
    # (DynamoDB Local keeps the setting but never deletes; the function checks
    # expiry itself).
    ensure_stream(ddb, name)
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") != "ENABLED":
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"}
        )
    indexes = [i["IndexName"] for i in ddb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])]
    if LIST_INDEX["IndexName"] not in indexes:
        sys.exit(
            f"provision: table {name!r} exists without the list index {LIST_INDEX['IndexName']!r} "
            "(made by an older version): delete it (make clean-local) and run again"
        )
    return state


# As template.yaml: the change-events function reads this stream.
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def ensure_stream(ddb, name: str) -> None:
    """A table made before the stream existed (a reused stack) gets it."""
    spec = ddb.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
    if spec.get("StreamEnabled") and spec.get("StreamViewType") == STREAM["StreamViewType"]:
        return
    if spec.get("StreamEnabled"):
        sys.exit(f"provision: table {name!r} has a {spec.get('StreamViewType')} stream, expected NEW_AND_OLD_IMAGES")
    ddb.update_table(TableName=name, StreamSpecification=STREAM)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def ensure_events(events, sqs, bus: str, queue: str) -> None:
    """The bus, the queue, and the rule forwarding every change event to it."""
    try:
        events.create_event_bus(Name=bus)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]  # returns the existing one
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=EVENTS_RULE,
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["customers-api"]}),
        Description="every customers-api change event to the local queue",
    )
    events.put_targets(Rule=EVENTS_RULE, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])


def put_keys(ssm, name: str) -> None:
    ssm.put_parameter(
        Name=name,
        Description="customers-api local API keys (SHA-256 hashes only)",
        Value=api_keys_document(),
        Type="SecureString",
        Overwrite=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME") or DEFAULT_TABLE)
    parser.add_argument("--parameter", default=os.environ.get("API_KEYS_PARAMETER") or DEFAULT_PARAMETER)
    parser.add_argument("--bus", default=os.environ.get("EVENT_BUS_NAME") or DEFAULT_BUS)
    parser.add_argument("--queue", default=os.environ.get("EVENTS_QUEUE") or DEFAULT_QUEUE)
    args = parser.parse_args()

    ddb_url = endpoint("AWS_ENDPOINT_URL_DYNAMODB")
    ssm_url = endpoint("AWS_ENDPOINT_URL_SSM")
    # One moto server serves SSM, EventBridge and SQS.
    events_url = os.environ.get("AWS_ENDPOINT_URL_EVENTBRIDGE") or ssm_url
    sqs_url = os.environ.get("AWS_ENDPOINT_URL_SQS") or ssm_url
    try:
        state = ensure_table(client("dynamodb", ddb_url), args.table)
        put_keys(client("ssm", ssm_url), args.parameter)
        ensure_events(client("events", events_url), client("sqs", sqs_url), args.bus, args.queue)
    except (BotoCoreError, ClientError) as err:
        print(f"provision: failed: {err}", file=sys.stderr)
        return 1
    print(
        f"[provision] table {args.table!r} {state} at {ddb_url}; "
        f"SecureString {args.parameter!r} written at {ssm_url} "
        f"(keys: {', '.join(k[0] for k in LOCAL_KEYS)}); "
        f"bus {args.bus!r} -> queue {args.queue!r} at {events_url}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
