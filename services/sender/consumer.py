"""The sender's JetStream consumer: delivery receipts, from the bridge."""

from shared import catalogue as api
from shared.jetstream import ConsumerSpec

RECEIPTS_CONSUMER = ConsumerSpec("INBOUND", "sender-receipts", api.INBOUND_RECEIPT.subject)
