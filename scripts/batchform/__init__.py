"""batchform: run containerised batch work on AWS Batch across several AWS accounts."""

__version__ = "0.1.0"
