"""Edge derivation: spans -> service-to-service edge observations (servicegraph rules)."""
