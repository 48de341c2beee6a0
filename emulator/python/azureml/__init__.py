"""A small stand-in for the Azure ML SDK, put on PYTHONPATH by the local Azure ML service.

Only the run-logging part of ``azureml.core`` exists here: enough for a training script written for
the real SDK (``from azureml.core import Run``) to run unchanged against the local service.
"""
