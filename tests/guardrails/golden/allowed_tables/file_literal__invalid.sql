-- raises: UnknownTableError
-- team: risk
SELECT * FROM '/etc/passwd'
