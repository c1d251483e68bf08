"""Use cases. Each takes its collaborators (database, clock, rules) as arguments."""
