#!/usr/bin/env python3
"""`make run`'s event source mapping: DynamoDB Local's stream to the events function.

  .venv/bin/python scripts/stream_poller.py --invoke-url http://127.0.0.1:9000 [--table customers]

Does locally what Lambda's DynamoDB event source mapping does in AWS
(template.yaml, EventsFunction): reads the table's stream (DescribeTable ->
LatestStreamArn, DescribeStream -> shards, GetShardIterator, GetRecords in a
loop), keeps only customers' records (the mapping's filter criteria: `kind` =
`customer` in NewImage or OldImage), and invokes the function
`customers-events` with each batch as a Lambda DynamoDB stream event, through
`cargo lambda watch`'s Lambda invoke API (which builds and runs the binary on
the first invocation, with the same environment as the API function).

The function's `batchItemFailures` are honoured as Lambda does: the shard
resumes at the lowest sequence number named, after a backoff; after
--max-retries the batch is given up, as the mapping would send it to its
on-failure queue (here: a log line), and the shard moves past it.

Standard library and boto3 only (both in .venv): this is development glue,
like provision.py, and shipping nothing, it needs no second Rust build.
Starts at the oldest record (TRIM_HORIZON): `make run`'s DynamoDB Local is in
memory, so that is this run's first write.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

FUNCTION = "customers-events"


def log(msg: str) -> None:
    print(f"[events] {msg}", file=sys.stderr, flush=True)


def client(service: str, url: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )


def plain(v):
    """boto3's decoded attribute values back to the wire's JSON form."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(v).decode()
    return v


def lambda_record(r: dict, arn: str) -> dict:
    """A GetRecords record as the event source mapping hands it to a function."""
    d = dict(r["dynamodb"])
    t = d.get("ApproximateCreationDateTime")
    if isinstance(t, dt.datetime):
        d["ApproximateCreationDateTime"] = t.timestamp()
    out = {k: v for k, v in r.items() if k != "dynamodb"}
    out["eventSourceARN"] = arn
    out["dynamodb"] = plain(d)
    return out


def is_customer(r: dict) -> bool:
    d = r.get("dynamodb", {})
    return any(d.get(i, {}).get("kind", {}).get("S") == "customer" for i in ("NewImage", "OldImage"))


def invoke(url: str, event: dict, timeout: float) -> dict:
    req = urllib.request.Request(
        f"{url}/2015-03-31/functions/{FUNCTION}/invocations",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read().decode("utf-8", "replace")
        if resp.headers.get("X-Amz-Function-Error"):
            raise RuntimeError(f"function error: {body[:300]}")
    return json.loads(body) if body.strip() else {}


class Shard:
    def __init__(self, shard_id: str):
        self.id = shard_id
        self.iterator: str | None = None
        self.closed = False
        self.retries = 0
        # The last record read past (delivered, filtered out or given up).
        self.last_seq: str | None = None


class Poller:
    def __init__(self, args):
        ddb_url = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        streams_url = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB_STREAMS") or ddb_url
        self.ddb = client("dynamodb", ddb_url)
        self.streams = client("dynamodbstreams", streams_url)
        self.args = args
        self.arn: str | None = None
        self.shards: dict[str, Shard] = {}

    def stream_arn(self) -> str:
        while True:
            table = self.ddb.describe_table(TableName=self.args.table)["Table"]
            if table.get("LatestStreamArn"):
                return table["LatestStreamArn"]
            log(f"table {self.args.table!r} has no stream yet; waiting")
            time.sleep(1)

    def iterator(self, shard: str, kind: str, seq: str | None = None) -> str:
        kw = {"StreamArn": self.arn, "ShardId": shard, "ShardIteratorType": kind}
        if seq:
            kw["SequenceNumber"] = seq
        return self.streams.get_shard_iterator(**kw)["ShardIterator"]

    def refresh_shards(self) -> None:
        desc = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        for s in desc.get("Shards", []):
            if s["ShardId"] not in self.shards:
                self.shards[s["ShardId"]] = Shard(s["ShardId"])

    def poll_shard(self, shard: Shard) -> bool:
        """One GetRecords and, if it brings customers' records, one invocation."""
        if shard.iterator is None:
            if shard.last_seq:
                shard.iterator = self.iterator(shard.id, "AFTER_SEQUENCE_NUMBER", shard.last_seq)
            else:
                shard.iterator = self.iterator(shard.id, "TRIM_HORIZON")
        page = self.streams.get_records(ShardIterator=shard.iterator, Limit=self.args.batch_size)
        records = page.get("Records", [])
        nxt = page.get("NextShardIterator")
        batch = [lambda_record(r, self.arn) for r in records if is_customer(r)]
        if batch:
            try:
                resp = invoke(self.args.invoke_url, {"Records": batch}, self.args.invoke_timeout)
                failed = [f.get("itemIdentifier") for f in resp.get("batchItemFailures") or []]
            except (urllib.error.URLError, OSError, ValueError, RuntimeError) as err:
                log(f"invocation failed ({err}); the whole batch again")
                failed = [""]
            if failed:
                return self.retry(shard, batch, failed)
            log(f"{len(batch)} record(s) delivered (up to {batch[-1]['dynamodb']['SequenceNumber']})")
        shard.retries = 0
        shard.iterator = nxt
        if records:
            shard.last_seq = records[-1]["dynamodb"]["SequenceNumber"]
        if nxt is None:
            shard.closed = True
        return bool(records)

    def retry(self, shard: Shard, batch: list, failed: list) -> bool:
        # Lambda's rule: resume at the lowest sequence number named; an empty
        # or unknown one means the whole batch.
        seqs = [r["dynamodb"]["SequenceNumber"] for r in batch]
        named = [s for s in failed if s in seqs]
        at = min(named, key=int) if named and len(named) == len(failed) else seqs[0]
        shard.retries += 1
        if shard.retries > self.args.max_retries:
            log(
                f"gave up on records {at}..{seqs[-1]} after {self.args.max_retries} retries "
                "(in AWS they would go to the on-failure queue); moving on"
            )
            shard.retries = 0
            shard.last_seq = seqs[-1]
            shard.iterator = self.iterator(shard.id, "AFTER_SEQUENCE_NUMBER", seqs[-1])
            return True
        delay = min(2 ** shard.retries * 0.25, 5.0)
        log(f"the function asks for records from {at} again; retry {shard.retries} in {delay:.2f}s")
        time.sleep(delay)
        shard.iterator = self.iterator(shard.id, "AT_SEQUENCE_NUMBER", at)
        return True

    def run(self) -> None:
        self.arn = self.stream_arn()
        log(f"reading {self.arn}, invoking {FUNCTION} at {self.args.invoke_url}")
        last_refresh = 0.0
        while True:
            if time.monotonic() - last_refresh > 10 or not self.shards:
                self.refresh_shards()
                last_refresh = time.monotonic()
            busy = False
            for shard in list(self.shards.values()):
                if not shard.closed:
                    busy |= self.poll_shard(shard)
            if not busy:
                time.sleep(self.args.interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoke-url", default="http://127.0.0.1:9000", help="cargo lambda watch's address")
    parser.add_argument("--table", default=os.environ.get("TABLE_NAME") or "customers")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between polls of an idle stream")
    parser.add_argument("--max-retries", type=int, default=3)
    parser.add_argument(
        "--invoke-timeout", type=float, default=1800.0, help="the first invocation builds the function"
    )
    args = parser.parse_args()
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        sys.exit("stream_poller: AWS_ENDPOINT_URL_DYNAMODB is not set (see scripts/stack.sh)")
    poller = Poller(args)
    while True:
        try:
            poller.run()
        except KeyboardInterrupt:
            return 0
        except (BotoCoreError, ClientError) as err:
            # DynamoDB Local busy, an expired iterator: each shard resumes
            # after the last record it read past.
            log(f"stream read failed ({err}); resuming in 2s")
            for shard in poller.shards.values():
                shard.iterator = None
            time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
