"""Measured comparisons for flask-wink, run by ``make bench``."""
