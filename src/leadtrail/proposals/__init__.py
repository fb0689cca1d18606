"""Optimisation proposals: an explicit state machine, a rule-based generator that reads the
friction data, and the service that stores proposals and their transitions."""
