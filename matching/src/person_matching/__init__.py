"""Binational person matching: names as agencies on either side of the border write them."""

__version__ = "0.1.0"
