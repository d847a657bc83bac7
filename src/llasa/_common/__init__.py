"""Layer 0: helpers with no llasa imports (errors, config, hub, device, seed, logging)."""
