"""The HTTP API of the decision service (FastAPI): thin routes over decision_service.services."""
