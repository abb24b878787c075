-- team: growth
SELECT * FROM loans
