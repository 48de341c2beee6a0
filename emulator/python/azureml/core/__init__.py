"""``azureml.core`` of the local Azure ML service: only ``Run``."""
from azureml.core.run import Run

__all__ = ["Run"]
