-- raises: ForbiddenFunctionError
-- team: risk
SELECT current_setting('threads') AS t
