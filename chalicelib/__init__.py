"""event-scheduler: everything the Chalice app packages besides app.py."""
