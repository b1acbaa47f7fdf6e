#!/usr/bin/env python3
"""template.yaml grants what the code calls and alarms on what is emitted
(`make test` step `template`, SPEC §14).

  .venv/bin/python scripts/template_check.py [--template T] [--src DIR] [--verbose]

(--template and --src default to the checkout's; other ones are for trying
the check itself on a changed copy.)

Translates template.yaml with samtranslator, offline (the managed-policy
loader is a stub answering {}; CodeUri is replaced by a placeholder S3 URI
as `sam package` would), then checks the translated template:

1. IAM. Each Lambda function's role (its `Role`, resolved) holds exactly the
   actions its code calls, each on exactly its resource, plus the
   allowances listed in `allowances()` (each with its reason), and nothing
   else: no extra action, none missing, no other or broader resource (`*`
   only for X-Ray), no managed or attached policies. "What the code calls"
   is read from src/: every `.send()` of an AWS SDK fluent builder
   (`.get_item()`, `.query()`, `.put_events()`, ...) and, for transactions,
   the item builders of aws_sdk_dynamodb::types (`Put::builder()` ...; IAM
   has no TransactWriteItems / TransactGetItems action: a transaction is
   authorized by the PutItem / UpdateItem / DeleteItem / ConditionCheckItem
   / GetItem of its items). Which sources make which function is
   `FUNCTIONS` below; every SDK call in src/ must belong to a function or
   to the admin CLI, so a new call nobody placed fails the check.
2. Alarms. Every alarm's metrics are ones something emits: the AWS
   namespaces from `AWS_METRICS` (metric names and the dimension sets the
   service publishes), each dimension value a reference to the right
   resource of this template; our own namespace only through
   `!Ref MetricsNamespace` with `service` = `!Ref AWS::StackName` (the names
   are checked against the code's EMF constants by a Rust test). Every
   alarm notifies the optional AlarmTopicArn and treats missing data as
   not breaching. The alarms the SPEC asks for exist (per function,
   per table operation the code calls, per dead-letter queue, ...).
3. Odds and ends the linters do not see: the log group each function
   writes to has the retention parameter (cfn-lint-serverless WS1004 is
   suppressed in the template because it cannot follow LoggingConfig),
   tracing is active, the EMF variables are set, the access log format is
   JSON without the path or the source IP, the dashboard body is JSON and
   names only things of this template.

Exits 1 with the list of everything wrong, 0 with a one-line summary (the
derived grants with --verbose).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"


# --------------------------------------------------------------------------
# Which sources make which function.
#
# A source entry is a path under the checkout: a directory (every .rs file
# under it), a file, or (file, [fn names]) for a file only some of whose
# functions belong ([] for none of them); a directory's files that have an
# entry of their own are taken as that entry says. Files without SDK calls
# may be listed freely (they add nothing); a listed file's calls all count.
#
# src/store/scan.rs is split: `item_count` (DescribeTable) and `scan_page`
# (Scan) are the admin CLI's table-wide reads; `snapshot` (TransactGetItems
# of Get items) is also the API's, called by the keyed PATCH in
# src/store/dynamo.rs. The check fails if the API's code calls one of the
# admin-only functions, or no longer calls `snapshot`.
#
# Test code (`#[cfg(test)]` items and the files of `#[cfg(test)] mod x;`)
# is not any function's.
# --------------------------------------------------------------------------

API_SOURCES = [
    "src/bin/customers-api.rs",
    "src/lib.rs",
    "src/error.rs",
    "src/http",
    "src/auth",
    "src/customer",
    "src/store",
    ("src/store/scan.rs", ["snapshot"]),
    "src/startup",
    ("src/startup/events.rs", []),
]

EVENTS_SOURCES = [
    "src/bin/customers-events.rs",
    "src/events",
    "src/startup/events.rs",
    # Shared helpers it uses (SDK config, logging, TLS, the item layout, the
    # customer's fields); none calls AWS.
    "src/startup/config.rs",
    ("src/startup/init.rs", ["sdk_config_with", "from_env_when_set", "https_client"]),
    "src/startup/logging.rs",
    "src/startup/tls.rs",
    "src/store/item.rs",
    "src/customer/fields.rs",
    "src/customer/patch.rs",
]

# Not a Lambda function, no role: listed so that every SDK call in src/ has
# an owner (it uses the rest of src/store too, through the API's code).
ADMIN_SOURCES = [
    "src/bin/customers-admin.rs",
    "src/admin",
    "src/store/scan.rs",
]

# Logical id of the function in template.yaml -> (binary, sources). The
# binary must be the function's BuildProperties.Binary.
FUNCTIONS = {
    "CustomersFunction": ("customers-api", API_SOURCES),
    "EventsFunction": ("customers-events", EVENTS_SOURCES),
}

# The environment variable each service's calls take their resource from
# (the code reads it; checked below), and so the template value the ARN is
# derived from.
RESOURCE_ENV = {
    "dynamodb": "TABLE_NAME",
    "ssm": "API_KEYS_PARAMETER",
    "events": "EVENT_BUS_NAME",
}

# SDK fluent operations (snake case, as the Rust SDK names them) by service.
# A `.send()` whose statement has none of these is an error: extend the list.
SDK_OPS = {
    "dynamodb": {
        "batch_execute_statement", "batch_get_item", "batch_write_item",
        "create_table", "delete_item", "delete_table", "describe_table",
        "describe_time_to_live", "execute_statement", "execute_transaction",
        "get_item", "list_tables", "put_item", "query", "scan",
        "transact_get_items", "transact_write_items", "update_item",
        "update_table", "update_time_to_live",
    },
    "ssm": {
        "delete_parameter", "delete_parameters", "describe_parameters",
        "get_parameter", "get_parameter_history", "get_parameters",
        "get_parameters_by_path", "label_parameter_version", "put_parameter",
    },
    "events": {
        "describe_event_bus", "list_rules", "put_events", "put_rule",
        "put_targets",
    },
}
OP_SERVICE = {op: svc for svc, ops in SDK_OPS.items() for op in ops}
# PartiQL needs PartiQL* actions this script does not derive.
UNSUPPORTED_OPS = {"execute_statement", "batch_execute_statement", "execute_transaction"}
# DynamoDB operations whose IAM action works on an index when the request
# names one.
INDEX_OPS = {"query", "scan"}
# Control-plane operations: no ThrottledRequests / SystemErrors of their own.
CONTROL_PLANE = {"describe_table", "describe_time_to_live", "create_table",
                 "delete_table", "update_table", "list_tables", "update_time_to_live"}

# Transaction item builders (aws_sdk_dynamodb::types) -> the IAM action that
# authorizes the item, and the transaction they go into.
ITEM_BUILDERS = {
    "Put": ("dynamodb:PutItem", "transact_write_items"),
    "Update": ("dynamodb:UpdateItem", "transact_write_items"),
    "Delete": ("dynamodb:DeleteItem", "transact_write_items"),
    "ConditionCheck": ("dynamodb:ConditionCheckItem", "transact_write_items"),
    "Get": ("dynamodb:GetItem", "transact_get_items"),
}

# Metrics AWS services publish: namespace -> metric -> the dimension-name
# sets it is published with (only those this stack can see: an HTTP API
# without detailed route metrics, functions without aliases).
_API = [frozenset({"ApiId"}), frozenset({"ApiId", "Stage"})]
_FN = [frozenset({"FunctionName"})]
_TABLE = [frozenset({"TableName"}), frozenset({"TableName", "GlobalSecondaryIndexName"})]
_OPS = [frozenset({"TableName", "Operation"})]
_QUEUE = [frozenset({"QueueName"})]
AWS_METRICS = {
    "AWS/ApiGateway": {m: _API for m in ("Count", "4xx", "5xx", "Latency",
                                         "IntegrationLatency", "DataProcessed")},
    "AWS/Lambda": {m: _FN for m in ("Errors", "Throttles", "Invocations", "Duration",
                                    "IteratorAge", "ConcurrentExecutions")},
    "AWS/DynamoDB": {
        "ThrottledRequests": _OPS,
        "SystemErrors": _OPS,
        "ReadThrottleEvents": _TABLE,
        "WriteThrottleEvents": _TABLE,
        "ConsumedReadCapacityUnits": _TABLE,
        "ConsumedWriteCapacityUnits": _TABLE,
    },
    "AWS/SQS": {m: _QUEUE for m in ("ApproximateNumberOfMessagesVisible",
                                    "ApproximateAgeOfOldestMessage",
                                    "NumberOfMessagesSent")},
}
# CloudWatch's Operation dimension values of DynamoDB (the API's names).
DYNAMODB_OPERATIONS = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem",
    "BatchWriteItem", "Query", "Scan", "TransactWriteItems",
    "TransactGetItems", "ExecuteStatement", "BatchExecuteStatement",
    "ExecuteTransaction",
}

PSEUDO = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue",
          "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName",
          "AWS::URLSuffix"}

problems: list[str] = []


def problem(msg: str) -> None:
    problems.append(msg)


def camel(snake: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in snake.split("_"))


def canon(value):
    """An intrinsic in one spelling: GetAtt as a list, Sub of a plain string
    as a string, for structural comparison."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "Fn::GetAtt" and isinstance(v, str):
                v = v.split(".", 1)
            if k == "Fn::Sub" and isinstance(v, list) and len(v) == 2 and not v[1]:
                v = v[0]
            out[k] = canon(v)
        return out
    if isinstance(value, list):
        return [canon(v) for v in value]
    return value


def key(value) -> str:
    return json.dumps(canon(value), sort_keys=True)


def show(value) -> str:
    """A compact YAML-ish rendering of an intrinsic for messages."""
    v = canon(value)
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and len(v) == 1:
        (k, arg), = v.items()
        if k == "Ref":
            return f"!Ref {arg}"
        if k == "Fn::GetAtt":
            return f"!GetAtt {'.'.join(arg)}"
        if k == "Fn::Sub" and isinstance(arg, str):
            return f"!Sub {arg}"
        if k == "Fn::If":
            return f"!If [{arg[0]}, {show(arg[1])}, {show(arg[2])}]"
    return json.dumps(v, sort_keys=True)


# --------------------------------------------------------------------------
# Rust sources
# --------------------------------------------------------------------------


def blank(text: str, start: int, end: int) -> str:
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


RAW_STRING = re.compile(r'b?r(#*)"')


def strip_rust(raw: str) -> str:
    """`raw` with comments and the contents of string and char literals
    turned into spaces (same length, same lines), so that braces and
    parentheses can be counted."""
    out = list(raw)
    i, n = 0, len(raw)

    def wipe(a: int, b: int) -> None:
        for j in range(a, b):
            if out[j] != "\n":
                out[j] = " "

    while i < n:
        c = raw[i]
        if raw.startswith("//", i):
            j = raw.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
        elif raw.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if raw.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif raw.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(i, j)
            i = j
        elif c in "br" and (m := RAW_STRING.match(raw, i)) and (
                i == 0 or not (raw[i - 1].isalnum() or raw[i - 1] == "_")):
            close = '"' + m.group(1)
            j = raw.find(close, m.end())
            j = n if j < 0 else j
            wipe(m.end(), j)
            i = j + len(close)
        elif c == '"':
            j = i + 1
            while j < n and raw[j] != '"':
                j += 2 if raw[j] == "\\" else 1
            wipe(i + 1, j)
            i = j + 1
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            if i + 1 < n and raw[i + 1] == "\\":
                j = raw.find("'", i + 2)
                wipe(i + 1, j)
                i = j + 1
            elif i + 2 < n and raw[i + 2] == "'":
                wipe(i + 1, i + 2)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def matching(text: str, open_at: int) -> int:
    """Index just past the bracket that closes the one at `open_at`."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    for j in range(open_at, len(text)):
        ch = text[j]
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")]}":
            if not stack or stack.pop() != ch:
                return j + 1
            if not stack:
                return j + 1
    return len(text)


@dataclass
class RustFile:
    rel: str
    raw: str
    code: str  # stripped, test code blanked
    fns: dict[str, tuple[int, int]] = field(default_factory=dict)  # top-level fns

    def line(self, pos: int) -> int:
        return self.raw.count("\n", 0, pos) + 1


def load_sources(src: Path) -> tuple[dict[str, RustFile], set[str]]:
    """Every .rs file under src, by its path as "src/..."."""
    files: dict[str, RustFile] = {}
    test_files: set[str] = set()
    for path in sorted(src.rglob("*.rs")):
        rel = "src/" + path.relative_to(src).as_posix()
        raw = path.read_text()
        code = strip_rust(raw)
        # Test items: blank `#[cfg(test)] <item> { ... }`; note the files of
        # `#[cfg(test)] mod x;`.
        for m in list(re.finditer(r"#\[cfg\(test\)\]", code)):
            if not code.startswith("#[cfg(test)]", m.start()):
                continue  # inside a test item blanked already
            j = m.end()
            while True:
                a = re.match(r"\s*#\[[^\]]*\]", code[j:])
                if not a:
                    break
                j += a.end()
            item = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code[j:])
            if item:
                base = path.parent if path.name in ("mod.rs", "lib.rs") else path.with_suffix("")
                for cand in (base / f"{item.group(1)}.rs", base / item.group(1) / "mod.rs"):
                    test_files.add("src/" + cand.relative_to(src).as_posix())
                continue
            brace = code.find("{", j)
            semi = code.find(";", j)
            if brace >= 0 and (semi < 0 or brace < semi):
                code = blank(code, m.start(), matching(code, brace))
        f = RustFile(rel, raw, code)
        spans = []
        for m in re.finditer(r"\bfn\s+(\w+)", code):
            j = m.end()
            depth = 0
            while j < len(code):
                ch = code[j]
                if ch in "([":
                    depth += 1
                elif ch in ")]":
                    depth -= 1
                elif depth == 0 and ch in "{;":
                    break
                j += 1
            if j >= len(code) or code[j] == ";":
                continue
            spans.append((m.group(1), m.start(), matching(code, j)))
        for name, a, b in spans:
            if not any(a2 < a and b <= b2 for _, a2, b2 in spans):
                f.fns.setdefault(name, (a, b))
        files[rel] = f
    for rel in test_files:
        files.pop(rel, None)
    return files, test_files


@dataclass
class Call:
    rel: str
    line: int
    op: str
    service: str
    chain: str  # raw text of the statement, from its start to `.send()`

    def where(self) -> str:
        return f"{self.rel}:{self.line} .{self.op}()"


def statement_start(code: str, pos: int) -> int:
    depth = 0
    for j in range(pos - 1, -1, -1):
        ch = code[j]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                return j + 1
            depth -= 1
        elif depth == 0 and ch in ";,":
            return j + 1
    return 0


def ops_in(text: str) -> list[str]:
    return [m for m in re.findall(r"\.\s*(\w+)\s*(?:::\s*<[^>]*>\s*)?\(", text) if m in OP_SERVICE]


def calls_in_span(f: RustFile, a: int, b: int) -> tuple[list[Call], list[tuple[int, int]]]:
    """The SDK calls sent between a and b, and the statement spans they take."""
    calls, taken = [], []
    for m in re.finditer(r"\.\s*send\s*\(\s*\)", f.code[a:b]):
        pos = a + m.start()
        start = statement_start(f.code, pos)
        chain_code = f.code[start:pos]
        chain_raw = f.raw[start:pos]
        ops = ops_in(chain_code)
        taken.append((start, pos))
        if not ops:
            # `let mut req = client.scan()...; if .. { req = req.segment(..) }
            # req.send()`: the builder was made in an earlier statement.
            root = re.search(r"(\w+)\s*$", chain_code)
            if root:
                name = root.group(1)
                fn_start = max([s for s, e in f.fns.values() if s <= pos < e] or [a])
                for d in re.finditer(rf"\blet\s+(?:mut\s+)?{name}\s*=", f.code[fn_start:pos]):
                    s = fn_start + d.end()
                    e = f.code.find(";", s)
                    ops = ops_in(f.code[s:e])
                    chain_raw = f.raw[s:e] + chain_raw
                    taken.append((s, e))
        if len(set(ops)) != 1:
            what = "no SDK operation" if not ops else f"several ({', '.join(sorted(set(ops)))})"
            problem(f"{f.rel}:{f.line(pos)}: a .send() with {what} in its statement; "
                    "scripts/template_check.py cannot tell what it calls (extend SDK_OPS?)")
            continue
        op = ops[0]
        calls.append(Call(f.rel, f.line(pos), op, OP_SERVICE[op], chain_raw))
    # A fluent call of a distinctive name that no .send() statement covers:
    # a builder sent elsewhere, which this script would not see.
    for m in re.finditer(r"\.\s*(\w+_\w+)\s*\(\s*\)", f.code[a:b]):
        pos = a + m.start()
        if m.group(1) in OP_SERVICE and not any(s <= pos < e for s, e in taken):
            problem(f"{f.rel}:{f.line(pos)}: .{m.group(1)}() is not sent in the same statement; "
                    "scripts/template_check.py cannot follow it")
    return calls, taken


def builders_in_span(f: RustFile, a: int, b: int) -> list[tuple[str, int]]:
    imported = set()
    for m in re.finditer(r"use\s+aws_sdk_dynamodb::types::\{([^}]*)\}", f.code):
        imported |= {x.strip() for x in f.raw[m.start(1):m.end(1)].split(",")}
    for m in re.finditer(r"use\s+aws_sdk_dynamodb::types::(\w+)\s*;", f.code):
        imported.add(m.group(1))
    out = []
    for m in re.finditer(r"(?:(?:aws_sdk_dynamodb::)?types::)?\b(\w+)::builder\s*\(", f.code[a:b]):
        name = m.group(1)
        if name in ITEM_BUILDERS and (name in imported or m.group(0).startswith(("types::", "aws_sdk_dynamodb::"))):
            out.append((name, f.line(a + m.start())))
    return out


@dataclass
class Unit:
    name: str
    spans: list[tuple[RustFile, int, int]]
    calls: list[Call] = field(default_factory=list)
    builders: list[tuple[str, str]] = field(default_factory=list)  # (builder, where)
    raw_text: str = ""


def build_unit(name: str, sources, files: dict[str, RustFile]) -> Unit:
    spans = []
    filtered: list[tuple[RustFile, list[str]]] = []
    own_entry = {e[0] for e in sources if not isinstance(e, str)}
    for entry in sources:
        rel, only = (entry, None) if isinstance(entry, str) else entry
        if only is None:
            chosen = [f for r, f in files.items() if r == rel or (
                r.startswith(rel.rstrip("/") + "/") and r not in own_entry)]
            if not chosen:
                problem(f"{name}: source {rel} does not exist (update the lists in scripts/template_check.py)")
            spans += [(f, 0, len(f.code)) for f in chosen]
        else:
            f = files.get(rel)
            if f is None:
                problem(f"{name}: source {rel} does not exist (update the lists in scripts/template_check.py)")
                continue
            for fn in only:
                if fn not in f.fns:
                    problem(f"{name}: {rel} has no fn {fn} (update the lists in scripts/template_check.py)")
                    continue
                spans.append((f, *f.fns[fn]))
            filtered.append((f, only))
    unit = Unit(name, spans)
    for f, a, b in spans:
        calls, _ = calls_in_span(f, a, b)
        unit.calls += calls
        unit.builders += [(n, f"{f.rel}:{line} {n}::builder()") for n, line in builders_in_span(f, a, b)]
    unit.raw_text = "\n".join(f.raw[a:b] for f, a, b in spans)
    # The split files: the functions left out must not be called by the
    # unit's code, the ones taken must be. A call is `.name(`,
    # `module::name(`, or a bare `name(` inside the same file.
    for f, only in filtered:
        module = Path(f.rel).stem
        for fn, span in f.fns.items():
            qualified = re.compile(rf"(?:\.|\b{module}::)\s*{fn}\s*\(")
            bare = re.compile(rf"(?<![\w.:]){fn}\s*\(")
            called = any(
                qualified.search(g.code[x:y]) or (g is f and bare.search(
                    re.sub(rf"\bfn\s+{fn}\b", "", g.code[x:y])))
                for g, x, y in spans if not (g is f and (x, y) == span))
            if fn in only and not called:
                problem(f"{name}: takes {f.rel}::{fn} but none of its code calls it "
                        "(update the lists in scripts/template_check.py)")
            if fn not in only and called:
                problem(f"{name}: calls {f.rel}::{fn}, which the lists in "
                        "scripts/template_check.py leave out of it")
    return unit


def const_str(files: dict[str, RustFile], name: str) -> str | None:
    for f in files.values():
        m = re.search(rf'\bconst\s+{name}\s*:\s*&(?:\'static\s+)?str\s*=\s*"([^"]*)"', f.raw)
        if m:
            return m.group(1)
    return None


def index_of(call: Call, files: dict[str, RustFile]) -> str | None:
    m = re.search(r"\.\s*index_name\s*\(\s*([^)]*?)\s*\)", call.chain)
    if not m:
        return None
    arg = m.group(1)
    lit = re.fullmatch(r'"([^"]*)"', arg)
    if lit:
        return lit.group(1)
    ident = re.fullmatch(r"&?(?:[\w]+::)*(\w+)", arg)
    value = const_str(files, ident.group(1)) if ident else None
    if value is None:
        problem(f"{call.where()}: cannot resolve the index name {arg!r} to a string constant")
        return "?"
    return value


# --------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------


class PolicyLoader:
    """Offline: no managed policy is looked up (the template uses none)."""

    def load(self) -> dict:
        return {}


def load_template(path: Path) -> tuple[dict, dict]:
    from cfnlint.decode import decode_str
    from samtranslator.translator.transform import transform

    source, matches = decode_str(path.read_text())
    if matches or source is None:
        sys.exit(f"template_check: {path} does not parse: {matches}")
    source = json.loads(json.dumps(source))
    sam = copy.deepcopy(source)
    for res in sam.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function" and not str(
                res.get("Properties", {}).get("CodeUri", "")).startswith("s3://"):
            res["Properties"]["CodeUri"] = "s3://placeholder/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        translated = transform(sam, {}, PolicyLoader())
    except Exception as e:  # noqa: BLE001 - the translator's own errors say what
        sys.exit(f"template_check: samtranslator rejects {path}: {e}")
    return source, json.loads(json.dumps(translated))


def ref_target(value) -> str | None:
    v = canon(value)
    if isinstance(v, dict) and list(v) == ["Ref"]:
        return v["Ref"]
    return None


def getatt(value) -> tuple[str, str] | None:
    v = canon(value)
    if isinstance(v, dict) and list(v) == ["Fn::GetAtt"]:
        return tuple(v["Fn::GetAtt"])
    return None


class Template:
    def __init__(self, t: dict):
        self.t = t
        self.res = t.get("Resources", {})
        self.params = t.get("Parameters", {})
        self.conds = t.get("Conditions", {})

    def type_of(self, lid: str | None) -> str | None:
        if lid in self.params:
            return "Parameter"
        return self.res.get(lid, {}).get("Type")

    def of_type(self, typ: str) -> dict:
        return {k: v for k, v in self.res.items() if v.get("Type") == typ}

    # The ARN, as a template expression, of the resource a name points at.
    def arn_of(self, name_expr, service: str, where: str):
        v = canon(name_expr)
        if isinstance(v, dict) and list(v) == ["Fn::If"]:
            c, a, b = v["Fn::If"]
            return {"Fn::If": [c, self.arn_of(a, service, where), self.arn_of(b, service, where)]}
        target = ref_target(v)
        typ = self.type_of(target)
        if service == "dynamodb" and typ == "AWS::DynamoDB::Table":
            return {"Fn::GetAtt": [target, "Arn"]}
        if service == "events" and typ == "AWS::Events::EventBus":
            return {"Fn::GetAtt": [target, "Arn"]}
        if service == "events" and typ == "Parameter":
            return {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}"
                               ":event-bus/${" + target + "}"}
        if service == "ssm" and typ == "Parameter":
            # A name either "/a/b" or "ab": the template picks the ARN form
            # with a condition that tests for the leading slash.
            test = {"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": target}]}]}, ""]}
            cond = next((c for c, body in self.conds.items() if key(body) == key(test)), None)
            if cond is None:
                problem(f"{where}: no condition tests {target} for a leading '/', so its ARN "
                        "cannot be written exactly")
                return None
            base = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
            return {"Fn::If": [cond, {"Fn::Sub": base + "${" + target + "}"},
                               {"Fn::Sub": base + "/${" + target + "}"}]}
        problem(f"{where}: cannot derive a {service} ARN from {show(v)}")
        return None


@dataclass(frozen=True)
class Grant:
    action: str
    resource: str  # key() of the expression
    condition: str = "null"


@dataclass
class Need:
    grant: Grant
    resource_expr: object
    reasons: list[str]


def expected_grants(tpl: Template, lid: str, fn: dict, unit: Unit,
                    files: dict[str, RustFile]) -> dict[Grant, Need]:
    props = fn.get("Properties", {})
    env = props.get("Environment", {}).get("Variables", {})
    need: dict[Grant, Need] = {}

    def add(action: str, resource, reason: str, condition=None) -> None:
        if resource is None:
            return
        g = Grant(action, key(resource), key(condition))
        need.setdefault(g, Need(g, resource, [])).reasons.append(reason)

    def resource_for(service: str):
        var = RESOURCE_ENV[service]
        if f'"{var}"' not in unit.raw_text:
            problem(f"{lid}: its code calls {service} but never reads {var}, where this script "
                    "takes the resource from (update RESOURCE_ENV)")
        if var not in env:
            problem(f"{lid}: its code calls {service} but the function has no {var} variable")
            return None
        return tpl.arn_of(env[var], service, f"{lid} {var}")

    tx_needed = {"transact_write_items": False, "transact_get_items": False}
    for call in unit.calls:
        if call.op in UNSUPPORTED_OPS:
            problem(f"{call.where()}: PartiQL is not derived by scripts/template_check.py")
            continue
        if call.op in tx_needed:
            tx_needed[call.op] = True
            continue
        res = resource_for(call.service)
        if call.service == "dynamodb" and call.op in INDEX_OPS:
            index = index_of(call, files)
            if index is not None:
                table = ref_target(env.get("TABLE_NAME"))
                gsis = {g.get("IndexName") for g in tpl.res.get(table, {}).get("Properties", {})
                        .get("GlobalSecondaryIndexes", []) + tpl.res.get(table, {}).get("Properties", {})
                        .get("LocalSecondaryIndexes", [])}
                if index not in gsis:
                    problem(f"{call.where()}: queries index {index!r}, which table {table} does not have")
                res = {"Fn::Sub": "${" + f"{table}.Arn" + "}/index/" + index}
        add(f"{call.service}:{camel(call.op)}", res, call.where())
        if call.op == "get_parameter" and re.search(r"with_decryption\s*\(\s*true\s*\)", call.chain):
            # SecureString: SSM decrypts with the caller's permission. The key
            # (aws/ssm or a customer key) is not known to the template, so any
            # key of the account, but only through SSM and only for this
            # parameter (SSM's encryption context).
            param_arn = resource_for("ssm")
            add("kms:Decrypt",
                {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"},
                f"{call.where()} with_decryption(true)",
                {"StringEquals": {
                    "kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"},
                    "kms:EncryptionContext:PARAMETER_ARN": param_arn}})
    seen_builders = {"transact_write_items": False, "transact_get_items": False}
    for builder, where in unit.builders:
        action, tx = ITEM_BUILDERS[builder]
        seen_builders[tx] = True
        if not tx_needed[tx]:
            problem(f"{lid}: {where} builds a transaction item but its code never calls .{tx}()")
            continue
        add(action, resource_for("dynamodb"), f"{where} (in .{tx}())")
    for tx, called in tx_needed.items():
        if called and not seen_builders[tx]:
            problem(f"{lid}: its code calls .{tx}() but builds no item for it "
                    f"({', '.join(b for b, (_, t) in ITEM_BUILDERS.items() if t == tx)}::builder)")

    allowances(tpl, lid, fn, add)
    return need


def allowances(tpl: Template, lid: str, fn: dict, add) -> None:
    """What a role needs that is no SDK call of our code."""
    props = fn.get("Properties", {})
    # Lambda writes the function's stdout and stderr to its log group with
    # the execution role (the group exists: no CreateLogGroup).
    group = ref_target(props.get("LoggingConfig", {}).get("LogGroup"))
    if tpl.type_of(group) != "AWS::Logs::LogGroup":
        problem(f"{lid}: LoggingConfig.LogGroup is not a !Ref to a log group of this template")
    else:
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            add(action, {"Fn::GetAtt": [group, "Arn"]}, "Lambda writes the function's logs")
    # Tracing: Active: Lambda sends the segments with the execution role;
    # X-Ray has no resource-level permissions.
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
            add(action, "*", "Tracing: Active")
    # Event source mappings poll with the function's role, and write their
    # on-failure destination with it.
    for mid, m in tpl.of_type("AWS::Lambda::EventSourceMapping").items():
        mp = m.get("Properties", {})
        if ref_target(mp.get("FunctionName")) != lid:
            continue
        src = getatt(mp.get("EventSourceArn"))
        if src and src[1] == "StreamArn" and tpl.type_of(src[0]) == "AWS::DynamoDB::Table":
            for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords",
                           "dynamodb:GetShardIterator", "dynamodb:ListStreams"):
                add(action, {"Fn::GetAtt": list(src)}, f"event source mapping {mid} reads the stream")
        else:
            problem(f"{mid}: an event source this script does not know ({show(mp.get('EventSourceArn'))})")
        dest = mp.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if dest is not None:
            d = getatt(dest)
            typ = tpl.type_of(d[0]) if d else None
            if typ == "AWS::SQS::Queue" and d[1] == "Arn":
                add("sqs:SendMessage", dest, f"event source mapping {mid}'s on-failure destination")
            elif typ == "AWS::SNS::Topic":
                add("sns:Publish", {"Ref": d[0]}, f"event source mapping {mid}'s on-failure destination")
            else:
                problem(f"{mid}: an on-failure destination this script does not know ({show(dest)})")


def actual_grants(tpl: Template, lid: str, role_id: str) -> dict[Grant, list[str]]:
    role = tpl.res[role_id]
    rp = role.get("Properties", {})
    got: dict[Grant, list[str]] = {}
    if rp.get("ManagedPolicyArns"):
        problem(f"{role_id} ({lid}'s role) has managed policies {show(rp['ManagedPolicyArns'])}: "
                "their actions are not the code's")
    trust = rp.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    principals = [s.get("Principal") for s in trust]
    if principals != [{"Service": "lambda.amazonaws.com"}]:
        problem(f"{role_id} can be assumed by {principals}, not only by Lambda")
    docs = [(p.get("PolicyName", "?"), p.get("PolicyDocument", {})) for p in rp.get("Policies", [])]
    for pid, p in tpl.res.items():
        if p.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            pp = p.get("Properties", {})
            roles = [ref_target(r) for r in pp.get("Roles", [])] + [ref_target(pp.get("RoleName"))]
            if role_id in roles:
                problem(f"{pid} attaches a policy to {role_id}: keep {lid}'s grants in its role")
                docs.append((pid, pp.get("PolicyDocument", {})))
    for pname, doc in docs:
        stmts = doc.get("Statement", [])
        stmts = stmts if isinstance(stmts, list) else [stmts]
        for n, s in enumerate(stmts):
            label = f"{role_id} {pname}/{s.get('Sid', n)}"
            if s.get("Effect") != "Allow" or {"NotAction", "NotResource", "Principal"} & set(s):
                problem(f"{label}: only plain Allow statements are understood here")
                continue
            actions = s.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            resources = s.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            for a in sorted({a for a in actions if actions.count(a) > 1}):
                problem(f"{label}: lists {a} twice")
            for a in actions:
                for r in resources:
                    g = Grant(a, key(r), key(s.get("Condition")))
                    if g in got and actions.count(a) == 1:
                        problem(f"{label}: grants {a} on {show(r)} again (also in {got[g][0]})")
                    got.setdefault(g, []).append(label)
    return got


def check_iam(tpl: Template, units: dict[str, Unit], files, verbose: bool) -> list[str]:
    report = []
    for lid, (binary, _) in FUNCTIONS.items():
        fn = tpl.res.get(lid)
        if not fn or fn.get("Type") != "AWS::Lambda::Function":
            problem(f"{lid}: no such function in the translated template (update FUNCTIONS)")
            continue
        role = getatt(fn["Properties"].get("Role"))
        if not role or role[1] != "Arn" or tpl.type_of(role[0]) != "AWS::IAM::Role":
            problem(f"{lid}: its Role is not !GetAtt <a role of this template>.Arn")
            continue
        need = expected_grants(tpl, lid, fn, units[lid], files)
        got = actual_grants(tpl, lid, role[0])
        by_action: dict[str, list[Need]] = {}
        for n in need.values():
            by_action.setdefault(n.grant.action, []).append(n)
        for g, labels in sorted(got.items(), key=lambda kv: (kv[0].action, kv[0].resource)):
            if g in need:
                continue
            res = show(json.loads(g.resource))
            wide = " (everything)" if g.resource == key("*") else ""
            if g.action in by_action:
                wanted = "; ".join(f"{show(n.resource_expr)}"
                                   + ("" if n.grant.condition == "null" else f" if {show(json.loads(n.grant.condition))}")
                                   for n in by_action[g.action])
                cond = "" if g.condition == "null" else f" if {show(json.loads(g.condition))}"
                problem(f"{labels[0]}: grants {g.action} on {res}{wide}{cond}; the code needs it only on {wanted}")
            else:
                problem(f"{labels[0]}: grants {g.action} on {res}{wide}, which neither {lid}'s code nor its allowances need")
        for g, n in sorted(need.items(), key=lambda kv: (kv[0].action, kv[0].resource)):
            if g not in got:
                cond = "" if g.condition == "null" else f" if {show(json.loads(g.condition))}"
                problem(f"{role[0]} ({lid}'s role) lacks {g.action} on {show(n.resource_expr)}{cond}, "
                        f"needed by {'; '.join(n.reasons)}")
        if verbose:
            report.append(f"{lid} ({binary}, role {role[0]}):")
            for g, n in sorted(need.items(), key=lambda kv: (kv[0].action, kv[0].resource)):
                cond = "" if g.condition == "null" else f"\n      if {show(json.loads(g.condition))}"
                report.append(f"  {g.action:28} {show(n.resource_expr)}{cond}")
                report += [f"      {r}" for r in sorted(set(n.reasons))]
    return report


# --------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------

ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def check_dimension(tpl: Template, label: str, ns: str, name: str, value) -> None:
    target = ref_target(value)
    att = getatt(value)
    ok = {
        "ApiId": tpl.type_of(target) == "AWS::ApiGatewayV2::Api",
        "Stage": value == "$default" or tpl.type_of(target) == "AWS::ApiGatewayV2::Stage",
        "FunctionName": tpl.type_of(target) == "AWS::Lambda::Function",
        "TableName": tpl.type_of(target) == "AWS::DynamoDB::Table",
        "Operation": isinstance(value, str) and value in DYNAMODB_OPERATIONS,
        "GlobalSecondaryIndexName": isinstance(value, str),
        "QueueName": bool(att) and att[1] == "QueueName" and tpl.type_of(att[0]) == "AWS::SQS::Queue",
    }.get(name, False)
    if not ok:
        problem(f"{label}: {ns} dimension {name} = {show(value)} is not the right resource of this template")


def alarm_metrics(alarm: dict) -> list[tuple[str, dict]]:
    p = alarm.get("Properties", {})
    if "Metrics" in p:
        return [(m.get("Id", "?"), m["MetricStat"]["Metric"]) for m in p["Metrics"] if "MetricStat" in m]
    return [("", {k: p.get(k) for k in ("Namespace", "MetricName", "Dimensions")})]


def check_alarms(tpl: Template, units: dict[str, Unit]) -> int:
    alarms = tpl.of_type("AWS::CloudWatch::Alarm")
    want_cond = {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    if key(tpl.conds.get("HasAlarmTopic")) != key(want_cond):
        problem('Conditions: HasAlarmTopic must be !Not [!Equals [!Ref AlarmTopicArn, ""]]')
    if "AlarmTopicArn" not in tpl.params:
        problem("Parameters: no AlarmTopicArn")
    seen: list[tuple[str, str, str, dict]] = []  # (alarm, namespace, metric, dims)
    for aid, alarm in alarms.items():
        p = alarm.get("Properties", {})
        for k in ("AlarmActions", "OKActions"):
            if key(p.get(k)) != key(ACTIONS):
                problem(f"{aid}: {k} must be !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]")
        if p.get("TreatMissingData") != "notBreaching":
            problem(f"{aid}: TreatMissingData is {p.get('TreatMissingData')!r}; every alarm here is "
                    "one where no data is health (notBreaching)")
        if "Metrics" in p:
            stats = [m for m in p["Metrics"] if "MetricStat" in m]
            if len(stats) > 10:
                problem(f"{aid}: {len(stats)} metrics; an alarm's metric math takes at most 10")
            returned = [m.get("Id") for m in p["Metrics"] if m.get("ReturnData", True)]
            if len(returned) != 1:
                problem(f"{aid}: {len(returned)} entries return data ({returned}); exactly one must")
            ids = {m.get("Id") for m in p["Metrics"]}
            for m in p["Metrics"]:
                # Ids start lower case; CloudWatch's functions are upper case.
                for used in re.findall(r"\b[a-z]\w*\b", m.get("Expression", "")):
                    if used not in ids:
                        problem(f"{aid}: expression {m['Expression']!r} uses {used!r}, no metric's id")
        for mid, metric in alarm_metrics(alarm):
            label = f"{aid}{'/' + mid if mid else ''}"
            ns, name = metric.get("Namespace"), metric.get("MetricName")
            dims = {d.get("Name"): d.get("Value") for d in (metric.get("Dimensions") or [])}
            seen.append((aid, ns if isinstance(ns, str) else show(ns), name, dims))
            if ref_target(ns) == "MetricsNamespace":
                if key(dims.get("service")) != key({"Ref": "AWS::StackName"}):
                    problem(f"{label}: our metrics carry service = !Ref AWS::StackName, "
                            f"not {show(dims.get('service'))}")
                continue
            if ns not in AWS_METRICS:
                problem(f"{label}: namespace {show(ns)} is neither an AWS one this script knows "
                        "nor !Ref MetricsNamespace")
                continue
            sets = AWS_METRICS[ns].get(name)
            if sets is None:
                problem(f"{label}: {ns} publishes no metric {name!r} for this stack")
                continue
            if frozenset(dims) not in sets:
                problem(f"{label}: {ns} {name} is published by {' or '.join(sorted('+'.join(sorted(s)) for s in sets))}, "
                        f"not by {'+'.join(sorted(dims)) or 'no dimension'}")
            for dn, dv in dims.items():
                check_dimension(tpl, label, ns, dn, dv)
            if ns == "AWS/Lambda" and name == "IteratorAge":
                fn = ref_target(dims.get("FunctionName"))
                streams = [m for m in tpl.of_type("AWS::Lambda::EventSourceMapping").values()
                           if ref_target(m["Properties"].get("FunctionName")) == fn]
                if not streams:
                    problem(f"{label}: IteratorAge of {fn}, which reads no stream")

    def have(ns, name, **dims) -> list[str]:
        return [a for a, n, m, d in seen if n == ns and m == name
                and all(key(d.get(k)) == key(v) for k, v in dims.items())]

    # The alarms SPEC §14 asks for.
    for api in tpl.of_type("AWS::ApiGatewayV2::Api"):
        rate = set(have("AWS/ApiGateway", "5xx", ApiId={"Ref": api})) & set(
            have("AWS/ApiGateway", "Count", ApiId={"Ref": api}))
        if not rate:
            problem(f"no alarm on {api}'s 5xx rate (5xx / Count)")
        if not any(alarms[a]["Properties"].get("ExtendedStatistic") == "p99"
                   for a in have("AWS/ApiGateway", "Latency", ApiId={"Ref": api})):
            problem(f"no alarm on {api}'s p99 Latency")
    for lid in tpl.of_type("AWS::Lambda::Function"):
        for metric in ("Errors", "Throttles"):
            if not have("AWS/Lambda", metric, FunctionName={"Ref": lid}):
                problem(f"no alarm on {lid}'s {metric}")
    for m in tpl.of_type("AWS::Lambda::EventSourceMapping").values():
        mp = m["Properties"]
        fn = ref_target(mp.get("FunctionName"))
        if getatt(mp.get("EventSourceArn")) and not have("AWS/Lambda", "IteratorAge", FunctionName={"Ref": fn}):
            problem(f"no alarm on {fn}'s IteratorAge")
        dest = getatt(mp.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
        if dest and tpl.type_of(dest[0]) == "AWS::SQS::Queue" and not have(
                "AWS/SQS", "ApproximateNumberOfMessagesVisible",
                QueueName={"Fn::GetAtt": [dest[0], "QueueName"]}):
            problem(f"no alarm on the dead-letter queue {dest[0]} not being empty")
    # The operations the functions call, as CloudWatch names them.
    ops = sorted({camel(c.op) for lid in FUNCTIONS for c in units[lid].calls
                  if c.service == "dynamodb" and c.op not in CONTROL_PLANE})
    for table in tpl.of_type("AWS::DynamoDB::Table"):
        for metric in ("ThrottledRequests", "SystemErrors"):
            by_alarm: dict[str, set] = {}
            for a, n, m, d in seen:
                if n == "AWS/DynamoDB" and m == metric and key(d.get("TableName")) == key({"Ref": table}):
                    by_alarm.setdefault(a, set()).add(d.get("Operation"))
            if not by_alarm:
                problem(f"no alarm on {table}'s {metric}")
            for a, got_ops in by_alarm.items():
                if sorted(got_ops) != ops:
                    problem(f"{a}: sums {metric} over {sorted(got_ops)}; the functions call {ops}")
    if not have("!Ref MetricsNamespace", "eventsFailed"):
        problem("no alarm on our eventsFailed metric")
    return len(alarms)


# --------------------------------------------------------------------------
# The rest
# --------------------------------------------------------------------------


def check_functions(tpl: Template) -> None:
    retention = {"Ref": "LogRetentionInDays"}
    for lid, (binary, _) in FUNCTIONS.items():
        fn = tpl.res.get(lid, {})
        props = fn.get("Properties", {})
        built = fn.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if built != binary:
            problem(f"{lid}: builds binary {built!r}, FUNCTIONS says {binary!r}")
        if props.get("TracingConfig", {}).get("Mode") != "Active":
            problem(f"{lid}: tracing is not Active")
        group = ref_target(props.get("LoggingConfig", {}).get("LogGroup"))
        if key(tpl.res.get(group, {}).get("Properties", {}).get("RetentionInDays")) != key(retention):
            problem(f"{lid}: its log group {group} does not keep events for !Ref LogRetentionInDays")
        env = props.get("Environment", {}).get("Variables", {})
        for var, want in (("METRICS_NAMESPACE", {"Ref": "MetricsNamespace"}),
                          ("SERVICE_NAME", {"Ref": "AWS::StackName"})):
            if key(env.get(var)) != key(want):
                problem(f"{lid}: {var} must be {show(want)}, is {show(env.get(var))}")
    for sid, stage in tpl.of_type("AWS::ApiGatewayV2::Stage").items():
        logs = stage.get("Properties", {}).get("AccessLogSettings")
        if not logs:
            problem(f"{sid}: no access log")
            continue
        dest = getatt(logs.get("DestinationArn"))
        if not dest or tpl.type_of(dest[0]) != "AWS::Logs::LogGroup" or key(
                tpl.res[dest[0]]["Properties"].get("RetentionInDays")) != key(retention):
            problem(f"{sid}: the access log goes to {show(logs.get('DestinationArn'))}, "
                    "not a log group of this template with !Ref LogRetentionInDays")
        fmt = logs.get("Format", "")
        try:
            json.loads(re.sub(r"\$context\.[\w.]+", "0", fmt))
        except (TypeError, ValueError) as e:
            problem(f"{sid}: the access log format is not JSON ({e})")
            continue
        used = set(re.findall(r"\$context\.([\w.]+)", fmt))
        for private in ("identity.sourceIp", "path"):
            if private in used:
                problem(f"{sid}: the access log has $context.{private} (kept minimal: no path, no IP)")
        for wanted in ("requestId", "routeKey", "status", "responseLatency", "integrationLatency",
                       "integrationErrorMessage", "integrationStatus", "requestTimeEpoch"):
            if wanted not in used:
                problem(f"{sid}: the access log lacks $context.{wanted}")


def check_dashboards(tpl: Template) -> None:
    for did, d in tpl.of_type("AWS::CloudWatch::Dashboard").items():
        body = canon(d.get("Properties", {}).get("DashboardBody"))
        text = body.get("Fn::Sub") if isinstance(body, dict) else body
        if not isinstance(text, str):
            problem(f"{did}: DashboardBody is not a string or a !Sub of one")
            continue
        for name in set(re.findall(r"\$\{([^}!]+)\}", text)):
            base = name.partition(".")[0]
            if not (name in PSEUDO or base in tpl.params or base in tpl.res):
                problem(f"{did}: ${{{name}}} names nothing of this template")
        try:
            json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
        except ValueError as e:
            problem(f"{did}: DashboardBody is not JSON once substituted ({e})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument("--src", type=Path, default=SRC, help="the Rust sources (src/)")
    ap.add_argument("--verbose", action="store_true", help="print the derived grants")
    args = ap.parse_args()

    files, _ = load_sources(args.src)
    units = {lid: build_unit(lid, sources, files) for lid, (_, sources) in FUNCTIONS.items()}
    admin = build_unit("customers-admin", ADMIN_SOURCES, files)
    # Every SDK call in src/ belongs to someone.
    owned = {(c.rel, c.line) for u in [*units.values(), admin] for c in u.calls}
    for f in files.values():
        for c in calls_in_span(f, 0, len(f.code))[0]:
            if (c.rel, c.line) not in owned:
                problem(f"{c.where()}: in no function's sources nor the admin CLI's "
                        "(place it in the lists of scripts/template_check.py)")
    problems[:] = list(dict.fromkeys(problems))  # the ownership pass repeats the scan's findings

    _, translated = load_template(args.template)
    tpl = Template(translated)
    report = check_iam(tpl, units, files, args.verbose)
    n_alarms = check_alarms(tpl, units)
    check_functions(tpl)
    check_dashboards(tpl)

    if args.verbose:
        print("\n".join(report))
    if problems:
        print(f"template_check: {len(problems)} problem(s) in {args.template.name}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    n_calls = sum(len(u.calls) for u in units.values())
    print(f"template_check: ok: {len(FUNCTIONS)} roles match the {n_calls} SDK calls of their "
          f"code plus the allowances; {n_alarms} alarms on emitted metrics", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
