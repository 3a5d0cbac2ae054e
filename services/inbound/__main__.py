"""Run the inbound service: `python -m services.inbound`."""

from services.inbound.service import DEFINITION
from shared.runner import main_for
from shared.settings import InboundSettings

if __name__ == "__main__":
    main_for(DEFINITION, InboundSettings)
