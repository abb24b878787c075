-- raises: UnknownColumnError
-- team: growth
SELECT bureau_score FROM decisions
