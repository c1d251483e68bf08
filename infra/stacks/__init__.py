"""The CDK constructs around the Chalice app, one concern per module."""
