-- team: growth
SELECT code, count(*) AS n FROM decisions, unnest(reason_codes) AS t(code) GROUP BY 1
