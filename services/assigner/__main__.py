"""Run the assigner service: `python -m services.assigner`."""

from services.assigner.service import DEFINITION
from shared.runner import main_for
from shared.settings import AssignerSettings

if __name__ == "__main__":
    main_for(DEFINITION, AssignerSettings)
