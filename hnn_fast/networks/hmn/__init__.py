"""The hybrid modulation network (HMN): continual learning by threshold modulation.
README.md beside this file."""
