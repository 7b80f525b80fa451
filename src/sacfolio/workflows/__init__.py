"""What the CLI and the API do, written once: train-and-register, the walk-forward
run, the evaluation behind ``demo`` / ``evaluate``, and a model to and from artifacts."""
