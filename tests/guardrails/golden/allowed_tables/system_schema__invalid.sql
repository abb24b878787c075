-- raises: UnknownTableError
-- team: risk
SELECT * FROM information_schema.tables
