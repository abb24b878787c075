-- team: growth
SELECT p.name, count(*) AS n FROM decisions d JOIN partners p ON p.partner_id = d.partner_id GROUP BY 1
