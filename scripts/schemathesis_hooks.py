"""Schemathesis hooks for `make test` (loaded by scripts/schemathesis.sh via
SCHEMATHESIS_HOOKS).

One narrow exclusion, for the local emulator rather than the function:
`cargo lambda watch` answers a request whose body is not valid UTF-8 itself,
with a `text/plain` 500 (`{"type":"https://httpstatuses.com/500",...}`), and
never invokes the function. Such a case would only test the emulator, so it is
not generated. Schemathesis produces these bodies in its syntax fuzzing of
JSON bodies (random bytes that are not JSON); the random bytes that *are*
UTF-8 still reach the function and must be refused with 400 `invalid_json`.
The function's own handling of invalid UTF-8 (400 `invalid_json`, nothing
changed) is covered by tests/hostile.rs, through the handler, without the
emulator.
"""

from __future__ import annotations

import uuid

import schemathesis


def _raw_bytes(body: object) -> bytes | None:
    """The bytes of a body that goes on the wire as-is, if it is one."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    data = getattr(body, "data", None)  # schemathesis' Binary wrapper
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@schemathesis.hook
def filter_case(context, case) -> bool:
    """Keep every case except one whose body is raw bytes that are not UTF-8."""
    raw = _raw_bytes(case.body)
    return raw is None or _is_utf8(raw)


_PRINTABLE = set(range(0x21, 0x7F))


def _valid_key(value: str) -> bool:
    inner = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return 1 <= len(inner) <= 255 and all(ord(c) in _PRINTABLE for c in inner)


@schemathesis.hook
def before_call(context, case, **kwargs):
    """A well-formed `Idempotency-Key` becomes a fresh one per case.

    Schemathesis draws header values from a small pool (the documented
    example above all), so most keyed cases would reuse one key with other
    bodies and be answered 422 `idempotency_key_reused`: correct, but it
    would keep those cases from fuzzing what the request itself does.
    Malformed keys are left as generated, so the 400 is still exercised; the
    replay and reuse rules themselves are tested in tests/idempotency.rs.
    """
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and _valid_key(headers[name]):
            headers[name] = f"st-{uuid.uuid4()}"
