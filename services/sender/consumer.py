"""The sender's JetStream consumer: delivery receipts, from the bridge."""

from shared.contract import catalogue as api
from shared.runtime.jetstream import ConsumerSpec

RECEIPTS_CONSUMER = ConsumerSpec("INBOUND", "sender-receipts", api.INBOUND_RECEIPT.subject)
