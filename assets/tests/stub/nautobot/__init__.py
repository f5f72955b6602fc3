"""Stand-in for the nautobot package (see core/settings.py)."""
