"""Every JetStream stream and durable consumer Baton uses, declared explicitly at start.

`pull_subscribe(durable=...)` silently keeps an existing consumer's old configuration, so we
never rely on it: each service declares what it needs and fails at start with a clear message
when the server holds something different (configuration drift).
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from shared.contract import catalogue as api

DAY = 24 * 3600.0


class ConfigDriftError(RuntimeError):
    """The server holds a stream or consumer whose configuration differs from Baton's."""


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_seconds: float
    # Nats-Msg-Id deduplication window. The outbox does not rely on it: each row has a subject of
    # its own and is published only if nothing is on that subject yet (shared/runtime/outbox.py),
    # which holds however long after the first copy a row is published again.
    duplicate_window_seconds: float = 120.0

    def config(self, replicas: int) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=self.max_age_seconds,
            duplicate_window=self.duplicate_window_seconds,
            num_replicas=replicas,
        )


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    ack_wait_seconds: float = 30.0
    max_deliver: int = -1
    max_ack_pending: int = 10_000

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self.filter_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_seconds,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
        )


# Events from the outbox, one per subject: the event's subject, then its id as the last token
# (`baton.events.conversation.assigned.<operation id>`).
# What the outbox publishes, by subject prefix: events (every service), texts (the sender only).
EVENTS_PREFIX = f"{api.EVENTS_ROOT}."
OUTBOUND_PREFIX = f"{api.OUTBOUND_ROOT}."
EVENTS = StreamSpec("EVENTS", (EVENTS_PREFIX + ">",), max_age_seconds=7 * DAY)
# Texts for the provider bridge, one per subject: `baton.outbound.sms.<message id>`. Nothing else
# is stored here, so no text reaches the bridge without the outbox's one-per-subject guard.
OUTBOUND = StreamSpec("OUTBOUND", (api.OUTBOUND_SMS.pattern,), max_age_seconds=7 * DAY)
INBOUND = StreamSpec("INBOUND", (f"{api.INBOUND_ROOT}.>",), max_age_seconds=7 * DAY)
DEADLETTER = StreamSpec("DEADLETTER", (f"{api.DEADLETTER_ROOT}.>",), max_age_seconds=30 * DAY)
ALL_STREAMS = (EVENTS, OUTBOUND, INBOUND, DEADLETTER)


def _stream_drift(spec: StreamSpec, actual: StreamConfig, replicas: int) -> list[str]:
    wanted = spec.config(replicas)
    drift: list[str] = []
    if sorted(actual.subjects or []) != sorted(wanted.subjects or []):
        drift.append(f"subjects {actual.subjects} != {wanted.subjects}")
    for name in ("retention", "storage", "num_replicas"):
        if getattr(actual, name) != getattr(wanted, name):
            drift.append(f"{name} {getattr(actual, name)} != {getattr(wanted, name)}")
    for name in ("max_age", "duplicate_window"):
        if abs(float(getattr(actual, name) or 0) - float(getattr(wanted, name) or 0)) > 1e-3:
            drift.append(f"{name} {getattr(actual, name)} != {getattr(wanted, name)}")
    return drift


def _consumer_drift(spec: ConsumerSpec, actual: ConsumerConfig) -> list[str]:
    wanted = spec.config()
    drift: list[str] = []
    for name in ("filter_subject", "ack_policy", "max_deliver", "max_ack_pending"):
        if getattr(actual, name) != getattr(wanted, name):
            drift.append(f"{name} {getattr(actual, name)} != {getattr(wanted, name)}")
    if abs(float(actual.ack_wait or 0) - float(wanted.ack_wait or 0)) > 1e-3:
        drift.append(f"ack_wait {actual.ack_wait} != {wanted.ack_wait}")
    return drift


async def declare_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(spec.config(replicas))
        return
    drift = _stream_drift(spec, info.config, replicas)
    if drift:
        raise ConfigDriftError(
            f"JetStream stream {spec.name} differs from Baton's declaration: "
            + "; ".join(drift)
            + ". Update or delete it (nats stream edit/rm) and restart."
        )


async def declare_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        await js.add_consumer(spec.stream, spec.config())
        return
    drift = _consumer_drift(spec, info.config)
    if drift:
        raise ConfigDriftError(
            f"JetStream consumer {spec.stream}/{spec.durable} differs from Baton's declaration: "
            + "; ".join(drift)
            + ". Delete it (nats consumer rm) and restart."
        )


async def declare_all(
    js: JetStreamContext,
    streams: tuple[StreamSpec, ...] = ALL_STREAMS,
    consumers: tuple[ConsumerSpec, ...] = (),
    replicas: int = 1,
) -> None:
    for stream in streams:
        await declare_stream(js, stream, replicas)
    for consumer in consumers:
        await declare_consumer(js, consumer)
