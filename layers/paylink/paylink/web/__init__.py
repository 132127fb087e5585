"""Web: HTTP helpers, origins, hosted pages and templates, the merchant API, OpenAPI, idempotency."""
