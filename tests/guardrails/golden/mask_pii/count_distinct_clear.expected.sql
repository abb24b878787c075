SELECT applicants.city AS city, COUNT(DISTINCT applicants.pan) AS people FROM applicants AS applicants GROUP BY applicants.city LIMIT 10000
