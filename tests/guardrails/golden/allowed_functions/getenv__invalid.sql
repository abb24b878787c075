-- raises: ForbiddenFunctionError
-- team: risk
SELECT getenv('HOME') AS home
