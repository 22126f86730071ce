"""Restoring a backup: verify it whole, prepare the target, write it back, journal the progress."""
