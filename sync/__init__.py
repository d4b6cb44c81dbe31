"""arms-sync: decides which agency completes ARMS and flags duplicate assessments."""

__version__ = "0.1.0"
