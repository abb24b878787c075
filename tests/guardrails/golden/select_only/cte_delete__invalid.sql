-- raises: ForbiddenStatementError
-- team: growth
WITH x AS (DELETE FROM decisions RETURNING *) SELECT * FROM x
