"""The provider bridge's webhook paths (issue #31's contract): declared once. The bridge serves
them (services/bridge/), and `baton up --provider twilio-simulator` (`telnyx-simulator`) points
the simulated provider's numbers at them, as a deployment points the provider's console."""

from __future__ import annotations

# A contact's text, and the status callbacks of texts sent.
TWILIO_MESSAGES_PATH = "/twilio/messages"
TWILIO_STATUS_PATH = "/twilio/status"
# Telnyx's one webhook URL: contacts' texts and status events alike.
TELNYX_WEBHOOKS_PATH = "/telnyx/webhooks"
