"""Model definitions of the paper's three networks (hsn, hmn, hrn), one module each. Import the module
you need, e.g. `from hnn_fast.models.hmn import HMNModulator`; nothing is imported here so that one
model's import cost or failure never reaches another."""
