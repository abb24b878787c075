"""Services behind the API: auth, rate limits, idempotency, feature assembly and decision execution."""
