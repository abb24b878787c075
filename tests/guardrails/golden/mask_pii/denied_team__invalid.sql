-- raises: UnknownTableError
-- team: partnerships
SELECT pan FROM applicants
