"""The inbound service's JetStream consumer: contacts' texts, from the bridge."""

from shared.contract import catalogue as api
from shared.runtime.jetstream import ConsumerSpec

INBOUND_SMS_CONSUMER = ConsumerSpec("INBOUND", "inbound-sms", api.INBOUND_SMS.subject)
