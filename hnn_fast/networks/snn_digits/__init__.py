"""The smallest experiment: a spiking MLP on sklearn digits, a template for new experiments."""
