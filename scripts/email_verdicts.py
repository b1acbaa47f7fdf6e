#!/usr/bin/env python3
"""python `email-validator`'s verdict on every address of an email corpus
(tests/email_syntax.rs runs this and compares with ours).

  .venv/bin/python scripts/email_verdicts.py tests/fixtures/emails.jsonl

Reads JSON lines `{"email": "...", ...}` and prints, for each in order, one
JSON line: `{"valid": true, "norm": "<normal form>"}` or `{"valid": false,
"reason": "..."}`. The check is email-validator's defaults with
`check_deliverability=False` (no DNS). The normal form is SPEC §4's, built
from what email-validator returns: its NFC local part, lowercased (and
composed again), `@`, its IDNA ASCII domain, lowercased.
"""

from __future__ import annotations

import json
import sys
import unicodedata

from email_validator import EmailNotValidError, validate_email


def verdict(address: str) -> dict:
    try:
        v = validate_email(address, check_deliverability=False)
    except EmailNotValidError as err:
        return {"valid": False, "reason": str(err)}
    local = unicodedata.normalize("NFC", v.local_part.lower())
    return {"valid": True, "norm": f"{local}@{v.ascii_domain.lower()}"}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as corpus:
        for line in corpus:
            if line.strip():
                print(json.dumps(verdict(json.loads(line)["email"]), ensure_ascii=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
