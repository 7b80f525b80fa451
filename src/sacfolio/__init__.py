"""sacfolio: Soft Actor-Critic portfolio agents, trained, validated walk-forward, registered and served."""

__version__ = "0.1.0"
