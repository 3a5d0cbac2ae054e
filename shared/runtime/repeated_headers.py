"""A request carrying its `Authorization` header more than once is refused (issue #30).

nats-py parses a message's header block into a dict, so of two same-name headers only the last
survives (nats-py 2.16 `Client._process_headers` -> `_parse_header_lines`, one `out[name] =
value` per line; its `fast_mail_parser` path keeps one too), and a proxy reading the first would
disagree with Baton about who is calling. The repeat can only be seen in the raw block, which
nats-py hands to `_process_headers` (from `_process_msg`) and drops afterwards. So the services'
connection is this subclass: it counts the Authorization lines of the raw block, in any case, and
when there is more than one it leaves none in the parsed headers, which the request layer answers
`unauthenticated` as it does a missing token. Case-variant repeats (`Authorization` and
`authorization`) survive parsing as two keys and are refused in shared/runtime/endpoints.py as well.
"""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient

from shared.runtime.tokens import AUTHORIZATION_HEADER

_NAME = AUTHORIZATION_HEADER.lower().encode()


def repeats_authorization(raw: bytes) -> bool:
    """Whether a raw NATS header block (`NATS/1.0\\r\\nName: value\\r\\n...`) names the
    Authorization header on more than one line, in any case: read line by line exactly as nats-py
    reads names (split on CRLF, the bytes before the first colon, stripped of ASCII whitespace,
    which includes a lone CR or LF), so no line nats-py takes for the header escapes the count."""
    if raw.lower().count(_NAME) < 2:  # the common case, without splitting the block
        return False
    named = 0
    for line in raw.split(b"\r\n"):
        name, colon, _ = line.partition(b":")
        if colon and name.strip().lower() == _NAME:
            named += 1
    return named > 1


class RepeatAwareClient(NatsClient):
    """nats-py's client, with headers that drop a repeated Authorization entirely."""

    async def _process_headers(self, headers: Any) -> dict[str, str] | None:
        parsed: dict[str, str] | None = await super()._process_headers(headers)
        if parsed and isinstance(headers, bytes) and repeats_authorization(headers):
            return {k: v for k, v in parsed.items() if k.lower() != AUTHORIZATION_HEADER.lower()}
        return parsed
