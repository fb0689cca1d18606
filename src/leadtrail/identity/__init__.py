"""People: canonical users, the identity graph (pure merge rules + service), the background
resolver, journeys and lookalikes."""
