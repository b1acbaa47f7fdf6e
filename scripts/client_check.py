#!/usr/bin/env python3
"""A client generated from openapi.yaml works, errors included (`make test`
step `client`, run by scripts/test.sh through scripts/serve-function.sh).

  .venv/bin/python scripts/client_check.py --url http://127.0.0.1:PORT

Generates the Python client with `openapi-python-client` (pinned in
tools/requirements.txt) into a temporary directory, as a new user would, then
uses it against the function: create, get, patch, list, lookup by email, a 404
and a 400, each answer parsed into its generated type (the problems too:
typed `code`, `status`, `errors`). Exits non-zero on the first surprise.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "customers_api_client"


def generate(into: Path) -> None:
    config = into / "config.yaml"
    # No post hooks: they would run ruff, which is not installed.
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    out = into / "client"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(ROOT / "openapi.yaml"),
            "--output-path",
            str(out),
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        sys.exit(f"client_check: openapi-python-client failed:\n{run.stdout}\n{run.stderr}")
    sys.path.insert(0, str(out))


def expect(cond: bool, what: str) -> None:
    if not cond:
        sys.exit(f"client_check: FAILED: {what}")
    print(f"[client] ok: {what}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="customers-client-") as tmp:
        generate(Path(tmp))
        client_mod = importlib.import_module(PACKAGE)
        models = importlib.import_module(f"{PACKAGE}.models")
        create = importlib.import_module(f"{PACKAGE}.api.customers.create_customer")
        get = importlib.import_module(f"{PACKAGE}.api.customers.get_customer")
        update = importlib.import_module(f"{PACKAGE}.api.customers.update_customer")
        listing = importlib.import_module(f"{PACKAGE}.api.customers.list_customers")

        client = client_mod.AuthenticatedClient(base_url=args.url, token="local-write-key")
        cid = f"client_{uuid.uuid4().hex[:12]}"
        email = f"{cid}@Bücher.example.com"
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)

        r = create.sync_detailed(client=client, body=models.CustomerCreate(customer_id=cid, name="Client Check", email=email))
        expect(r.status_code == 201 and isinstance(r.parsed, models.CustomerResponse), f"create: 201 CustomerResponse (got {r.status_code})")
        expect(r.parsed.data.customer_id == cid and r.parsed.data.email == email, "create: the customer as sent")

        r = get.sync_detailed(cid, client=client)
        expect(r.status_code == 200 and isinstance(r.parsed, models.CustomerResponse), "get: 200 CustomerResponse")
        expect(r.headers.get("etag") == '"1"', "get: ETag \"1\"")

        r = update.sync_detailed(cid, client=client, body=models.CustomerPatch(name="Client Checked"))
        expect(r.status_code == 200 and isinstance(r.parsed, models.CustomerResponse), "patch: 200 CustomerResponse")
        expect(r.parsed.data.name == "Client Checked", "patch: the change landed")

        r = listing.sync_detailed(client=client, limit=100, created_after=before)
        expect(r.status_code == 200 and isinstance(r.parsed, models.CustomerList), "list: 200 CustomerList")
        expect(cid in [c.customer_id for c in r.parsed.data], "list: the new customer is on the first page")

        r = listing.sync_detailed(client=client, email=email.upper())
        expect(r.status_code == 200 and isinstance(r.parsed, models.CustomerList), "lookup: 200 CustomerList")
        expect([c.customer_id for c in r.parsed.data] == [cid], "lookup: exactly the customer, in any case")
        expect(r.parsed.next_cursor is None, "lookup: no next cursor")

        r = get.sync_detailed(f"{cid}_missing", client=client)
        expect(r.status_code == 404 and type(r.parsed).__name__ == "GetCustomerResponse404", "404: parsed as its problem type")
        expect(r.parsed.code.value == "not_found" and r.parsed.status == 404, "404: code not_found, status 404")

        r = listing.sync_detailed(client=client, limit=101)
        expect(r.status_code == 400 and type(r.parsed).__name__ == "ListCustomersResponse400", "400: parsed as its problem type")
        expect(r.parsed.code.value == "validation_failed", "400: code validation_failed")
        expect([e.param for e in r.parsed.errors] == ["limit"], "400: errors[] names limit")

        r = update.sync_detailed(cid, client=client, body=models.CustomerPatch(email="test@iana.org-"))
        expect(r.status_code == 400 and r.parsed.code.value == "validation_failed", "400 on PATCH: parsed, validation_failed")
        expect(r.parsed.errors[0].param == "email", "400 on PATCH: errors[] names email")
    print("[client] the generated Python client parsed every answer", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
