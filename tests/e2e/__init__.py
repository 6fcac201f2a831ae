"""End-to-end tests against the LocalStack harness (a package, so its conftest does not shadow others)."""
