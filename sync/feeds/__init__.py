"""Feed adapters: read agency records from files and gateways, validate them at the edge."""
