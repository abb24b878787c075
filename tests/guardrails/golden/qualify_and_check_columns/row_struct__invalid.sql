-- raises: UnknownColumnError
-- team: growth
SELECT loans FROM loans
