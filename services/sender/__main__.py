"""Run the sender service: `python -m services.sender`."""

from services.sender.service import DEFINITION
from shared.runner import main_for
from shared.settings import SenderSettings

if __name__ == "__main__":
    main_for(DEFINITION, SenderSettings)
