-- team: risk
SELECT city, count(DISTINCT pan) AS people FROM applicants GROUP BY city
