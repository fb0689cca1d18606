"""Form leads (seed 000 ``correlate_lead_submission``) and phone calls matched to sessions
(seeds 003 §5, 004 §3)."""
