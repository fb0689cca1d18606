"""Dynamic number insertion: a site's pool of tracking numbers leased to sessions."""
