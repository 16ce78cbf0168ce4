"""lakeqa: QA sidecar for a crypto market-data lake."""
__version__ = "0.1.0"
