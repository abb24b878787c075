-- raises: GuardrailError
-- team: risk
SELECT FROM WHERE
