"""The hybrid sensing network (HSN): tracking from APS frames and DVS events; README.md beside this file."""
