-- team: growth
SELECT partner_id -- */ DROP TABLE decisions
FROM partners /* ; DELETE FROM loans */
