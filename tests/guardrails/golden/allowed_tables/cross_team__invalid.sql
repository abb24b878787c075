-- raises: UnknownTableError
-- team: growth
SELECT * FROM bureau_reports
