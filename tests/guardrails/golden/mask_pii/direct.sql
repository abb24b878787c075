-- team: risk
SELECT applicant_id, pan FROM applicants
