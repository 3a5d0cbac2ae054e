"""The assigner: serves batch requests, reassignment and campaign administration."""
