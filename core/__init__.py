"""The core: domain types, settings, targets, storage, audit, telemetry. Imports no other layer."""
