#!/usr/bin/env python3
"""Print the change events that reach the local queue, as they arrive.

  .venv/bin/python scripts/watch_events.py [--queue customers-events] [--full] [--once]

`make run` publishes every committed change of a customer to moto's
EventBridge bus `customers-events`, whose rule forwards it to the SQS queue
`customers-events`; this long-polls that queue and prints one line per event
(`detail-type`, `id`, `changed`), or with --full the whole EventBridge
envelope. Messages are deleted once printed, so two watchers share them.
--once prints what is there and exits. Endpoints and credentials come from
AWS_ENDPOINT_URL_SQS (or .local/dev/env, the stack `make run` starts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent


def load_stack_env() -> None:
    """The variables of `make run`'s stack, unless they are set already."""
    env = ROOT / ".local" / "dev" / "env"
    if not env.is_file():
        return
    for line in env.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key not in os.environ:
            os.environ[key] = value


def line(envelope: dict) -> str:
    d = envelope.get("detail") or {}
    changed = d.get("changed")
    extra = f"  changed {','.join(changed)}" if changed else ""
    return f"{envelope.get('detail-type', '?'):<17} {d.get('id', '?')}  at {d.get('occurredAt', '?')}{extra}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue", default=os.environ.get("EVENTS_QUEUE") or "customers-events")
    parser.add_argument("--full", action="store_true", help="print each whole envelope (JSON)")
    parser.add_argument("--once", action="store_true", help="print what is queued, then exit")
    args = parser.parse_args()
    load_stack_env()
    url = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL_SSM")
    if not url:
        sys.exit("watch_events: no local stack found (start one with `make run`)")
    sqs = boto3.client(
        "sqs",
        endpoint_url=url,
        region_name=os.environ.get("AWS_REGION") or "us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "local",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
    )
    try:
        queue = sqs.get_queue_url(QueueName=args.queue)["QueueUrl"]
        print(f"[watch] {args.queue} at {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
        while True:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0 if args.once else 10)
            messages = got.get("Messages", [])
            if not messages and args.once:
                return 0
            for m in messages:
                envelope = json.loads(m["Body"])
                print(json.dumps(envelope, indent=2) if args.full else line(envelope), flush=True)
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    except KeyboardInterrupt:
        return 0
    except (BotoCoreError, ClientError) as err:
        print(f"watch_events: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
