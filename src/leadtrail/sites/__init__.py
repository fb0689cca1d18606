"""Sites (tenants): creation, settings, members, the tracker snippet."""
