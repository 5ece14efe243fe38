"""opsview: serverless functions of AWS, Azure and Google Cloud in one view."""

__version__ = "0.1.0"
