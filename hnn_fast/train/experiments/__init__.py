"""Registered experiments, one module each (see hnn_fast.train.registry)."""
