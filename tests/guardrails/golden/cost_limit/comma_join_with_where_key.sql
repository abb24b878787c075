-- team: growth
SELECT p.name, count(*) AS n FROM decisions d, partners p WHERE p.partner_id = d.partner_id GROUP BY 1
