"""The inbound service's JetStream consumer: contacts' texts, from the bridge."""

from shared import catalogue as api
from shared.jetstream import ConsumerSpec

INBOUND_SMS_CONSUMER = ConsumerSpec("INBOUND", "inbound-sms", api.INBOUND_SMS.subject)
