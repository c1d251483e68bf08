"""The local stack's parts: embedded PostgreSQL, the AWS emulator, the event-source runner."""
