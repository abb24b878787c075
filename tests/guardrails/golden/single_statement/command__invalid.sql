-- raises: ParseError
-- team: risk
CALL pragma_version()
