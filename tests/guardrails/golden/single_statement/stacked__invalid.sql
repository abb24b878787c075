-- raises: MultipleStatementsError
-- team: risk
SELECT 1 AS a; DROP TABLE decisions
