-- raises: ForbiddenStatementError
-- team: growth
PRAGMA database_list
