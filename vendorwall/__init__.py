"""vendorwall: vendor remote-maintenance lockdown for hospital networks."""

__version__ = "0.1.0"
