"""Pure helpers every part uses (no models, no I/O): safe text and JSON, counts in words."""
