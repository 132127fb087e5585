"""Core: models, errors, ids, settings, observability, formatting and validation, used by every room."""
