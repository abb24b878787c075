"""Bureau: simulator app, HTTP client with retries and a circuit breaker, and the report cache."""
