"""Hostile input: the behaviour the command line must have (issue "Hardening", section 8)."""
