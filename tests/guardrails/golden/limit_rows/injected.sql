-- team: growth
SELECT * FROM partners
