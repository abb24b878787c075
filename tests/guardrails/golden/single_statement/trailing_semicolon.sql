-- team: risk
SELECT partner_id FROM partners;
