"""Registration: find each animal, crop and rotate it into an egocentric box (no Qt)."""
