-- raises: UnknownColumnError
-- team: growth
SELECT d.features.bureau_score FROM decisions d
