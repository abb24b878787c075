SELECT d.features.bureau_score AS bureau_score FROM decisions AS d WHERE d.features.thin_file = 0 LIMIT 10000
