#!/usr/bin/env python3
"""Wait until `cargo lambda watch` serves the function, then seed one customer.

  python3 scripts/seed.py [--url http://127.0.0.1:9000] [--timeout 1200]

Standard library only. Readiness: the function answers
GET /v1/customers/cust_example (any status it chooses; the first build may take
minutes, the watcher holds requests until the function is up). Then POSTs the
example customer with the local write key; 201 (created) and 409 (already
there) both count as seeded.

With --banner (used by `make run`) it then prints the URL, the local keys and
curl examples, also when the seed failed (the function keeps serving).

Exit status: 0 seeded or already there, 2 the function did not answer in time,
3 the function answered but the POST did not succeed (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

WRITE_KEY = "local-write-key"
READ_KEY = "local-read-key"
EXAMPLE_ID = "cust_example"
EXAMPLE = {
    "customerId": EXAMPLE_ID,
    "name": "Jane Example",
    "email": "jane@example.com",
    "phone": "+14155550100",
    "address": {
        "line1": "1 Market St",
        "city": "San Francisco",
        "state": "CA",
        "postalCode": "94105",
        "country": "US",
    },
}
# What cargo lambda's emulator itself answers while no function instance can
# take the request (still compiling, build failed, or the process exited).
WATCHER_STATUSES = {502, 503, 504}


def request(method: str, url: str, key: str, body: dict | None, timeout: float) -> tuple[int, str, str]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {key}")
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode("utf-8", "replace")


def wait_ready(base: str, deadline: float, log) -> int | None:
    url = f"{base}/v1/customers/{EXAMPLE_ID}"
    last = None
    while time.monotonic() < deadline:
        try:
            # The watcher holds the first request while it builds (minutes on
            # a cold machine): a shorter timeout would give up on a request the
            # function then answers to nobody (the emulator logs a 500).
            wait = max(1.0, deadline - time.monotonic())
            status, ctype, body = request("GET", url, READ_KEY, None, timeout=wait)
            # The function's own errors are problem+json; the watcher's are not.
            if status not in WATCHER_STATUSES or ctype.startswith("application/problem+json"):
                return status
            last = f"HTTP {status} {body.strip()[:200]}"
        except (urllib.error.URLError, OSError) as err:  # not listening yet, or timed out
            last = str(getattr(err, "reason", err))
        log(f"waiting for the function ({last})")
        time.sleep(5)
    log(f"gave up waiting; last answer: {last}")
    return None


def banner(base: str) -> str:
    env = os.environ.get
    return f"""
================================================================================
 customers-api is running locally  (Ctrl-C stops everything)

   URL             {base}/v1/customers
                   {base}/v1/customers/{{customerId}}
   read+write key  {WRITE_KEY}
   read-only key   {READ_KEY}
   DynamoDB Local  {env("AWS_ENDPOINT_URL_DYNAMODB", "?")}   table {env("TABLE_NAME", "?")}
   SSM (moto)      {env("AWS_ENDPOINT_URL_SSM", "?")}   parameter {env("API_KEYS_PARAMETER", "?")}
   events (moto)   bus {env("EVENT_BUS_NAME", "?")} -> SQS queue {env("EVENTS_QUEUE", "?")}

 Watch the change events (in another terminal):
   .venv/bin/python scripts/watch_events.py

 Try:
   curl -i {base}/v1/customers/{EXAMPLE_ID} \\
     -H 'Authorization: Bearer {READ_KEY}'

   curl -i -X PATCH {base}/v1/customers/{EXAMPLE_ID} \\
     -H 'Authorization: Bearer {WRITE_KEY}' \\
     -H 'Content-Type: application/json' \\
     -d '{{"phone":"+14155550199","address":{{"city":"Oakland"}},"tags":["vip"]}}'

 Administration (another shell, this checkout; README "Administration"):
   set -a; . .local/run/function.env; set +a
   cargo run -q --bin customers-admin -- keys list
   cargo run -q --bin customers-admin -- check
================================================================================
"""


def seed(base: str, timeout: float) -> int:
    last_log = [0.0]

    def log(msg: str) -> None:  # at most every 30 s; the build output says the rest
        now = time.monotonic()
        if now - last_log[0] >= 30:
            print(f"[seed] {msg}", file=sys.stderr, flush=True)
            last_log[0] = now

    if wait_ready(base, time.monotonic() + timeout, log) is None:
        return 2
    try:
        status, _, body = request("POST", f"{base}/v1/customers", WRITE_KEY, EXAMPLE, timeout=60)
    except (urllib.error.URLError, OSError) as err:
        print(f"[seed] POST /v1/customers failed: {err}", file=sys.stderr)
        return 3
    if status == 201:
        print(f"[seed] created the example customer {EXAMPLE_ID}", file=sys.stderr)
        return 0
    if status == 409:
        print(f"[seed] the example customer {EXAMPLE_ID} already exists (409)", file=sys.stderr)
        return 0
    print(f"[seed] POST /v1/customers answered HTTP {status}: {body.strip()[:500]}", file=sys.stderr)
    return 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:9000")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for the function")
    parser.add_argument("--banner", action="store_true", help="print the make-run banner afterwards")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    rc = seed(base, args.timeout)
    if rc == 2:
        print(
            f"[seed] WARNING: the function did not answer at {base} within {args.timeout:.0f}s; "
            "still serving: see the build output above",
            file=sys.stderr,
        )
    elif rc != 0:
        print(
            f"[seed] WARNING: could not seed the example customer {EXAMPLE_ID} (see above; "
            "the handler may not implement POST /v1/customers yet); still serving",
            file=sys.stderr,
        )
    if args.banner and rc != 2:
        print(banner(base), file=sys.stderr, flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
