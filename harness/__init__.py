"""splitbrain: a Jepsen-style consistency tester for real Redis deployments."""

__version__ = "0.1.0"
