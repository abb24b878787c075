SELECT applicants.applicant_id AS applicant_id, SUBSTRING(MD5(GETVARIABLE('guardrails_pii_salt') || CAST(applicants.pan AS TEXT)), 1, 16) AS pan FROM applicants AS applicants LIMIT 10000
