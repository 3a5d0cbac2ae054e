"""Run the reaper service: `python -m services.reaper`."""

from services.reaper.service import DEFINITION
from shared.runner import main_for
from shared.settings import ReaperSettings

if __name__ == "__main__":
    main_for(DEFINITION, ReaperSettings)
