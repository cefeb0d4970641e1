"""prunescale: prune decoder layers of causal LMs and measure what it does to test-time scaling."""

__version__ = "0.1.0"
