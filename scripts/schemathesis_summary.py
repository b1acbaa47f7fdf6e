#!/usr/bin/env python3
"""Per-operation counts of a schemathesis run, from its NDJSON report.

  python3 scripts/schemathesis_summary.py REPORT.ndjson

Schemathesis' own summary gives the total number of test cases; this adds,
for each operation, how many cases each phase sent and the statuses the
function answered, so a run that never reached, say, a 200 on PATCH shows it.
Standard library only. Prints to stdout; exit status 0 unless the report
cannot be read.
"""

from __future__ import annotations

import collections
import json
import sys

PHASES = ("examples", "coverage", "fuzzing", "stateful")


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cases: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    failed: collections.Counter = collections.Counter()
    try:
        with open(sys.argv[1], encoding="utf-8") as f:
            for line in f:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if not finished:
                    continue
                recorder = finished.get("recorder") or {}
                checks = recorder.get("checks") or {}
                interactions = recorder.get("interactions") or {}
                for case_id, node in (recorder.get("cases") or {}).items():
                    case = node.get("value") or {}
                    op = f"{case.get('method', '?')} {case.get('path', '?')}"
                    phase = ((case.get("meta") or {}).get("phase") or {}).get("name") or finished.get("phase", "?")
                    cases[op][phase] += 1
                    response = (interactions.get(case_id) or {}).get("response") or {}
                    if "status_code" in response:
                        statuses[op][response["status_code"]] += 1
                    if any(c.get("status") == "failure" for c in checks.get(case_id, [])):
                        failed[op] += 1
    except (OSError, ValueError) as err:
        print(f"schemathesis_summary: cannot read {sys.argv[1]}: {err}", file=sys.stderr)
        return 1

    width = max([len(op) for op in cases] + [len("operation")])
    header = f"{'operation':<{width}}  " + "  ".join(f"{p:>8}" for p in PHASES) + f"  {'total':>6}  {'failed':>6}"
    print(header)
    print("-" * len(header))
    total = collections.Counter()
    for op in sorted(cases):
        row = cases[op]
        total.update(row)
        print(
            f"{op:<{width}}  "
            + "  ".join(f"{row[p]:>8}" for p in PHASES)
            + f"  {sum(row.values()):>6}  {failed[op]:>6}"
        )
    print("-" * len(header))
    print(
        f"{'all operations':<{width}}  "
        + "  ".join(f"{total[p]:>8}" for p in PHASES)
        + f"  {sum(total.values()):>6}  {sum(failed.values()):>6}"
    )
    print()
    print("statuses answered:")
    for op in sorted(statuses):
        parts = ", ".join(f"{code}×{n}" for code, n in sorted(statuses[op].items()))
        print(f"  {op:<{width}}  {parts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
