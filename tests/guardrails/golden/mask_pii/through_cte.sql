-- team: risk
WITH x AS (SELECT email AS contact, city FROM applicants) SELECT contact, city FROM x
