"""The one source of Sluice's version: the wheel, both packages and the chart check it."""

__version__ = "0.1.0"
