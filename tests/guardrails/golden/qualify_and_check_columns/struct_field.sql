-- team: risk
SELECT d.features.bureau_score AS bureau_score FROM decisions d WHERE d.features.thin_file = 0
