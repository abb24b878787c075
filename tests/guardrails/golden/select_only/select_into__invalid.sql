-- raises: ForbiddenStatementError
-- team: growth
SELECT * INTO copy FROM decisions
