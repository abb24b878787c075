SELECT t.code AS code, COUNT(*) AS n FROM decisions AS decisions JOIN UNNEST(decisions.reason_codes) AS t(code) ON TRUE GROUP BY t.code LIMIT 10000
