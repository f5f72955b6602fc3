"""Stand-in for nautobot.core (see settings.py)."""
