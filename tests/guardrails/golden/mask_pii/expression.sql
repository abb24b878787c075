-- team: risk
SELECT upper(substr(phone, 1, 5)) AS prefix, count(*) AS n FROM applicants GROUP BY 1
