"""Neutron ML2 mechanism driver for vepa."""
