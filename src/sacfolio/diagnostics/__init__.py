"""Diagnostics: is a network healthy, and what did it look like at initialization?

One home for the analysis that the training health monitor
(:mod:`sacfolio.train.callbacks.health`), ``sacfolio inspect``, the registry's
promotion gate and ``sacfolio doctor`` share:

- :mod:`~sacfolio.diagnostics.stats`: per-tensor statistics (zeros, norms,
  extremes, non-finite values, change since initialization, gradient norms);
- :mod:`~sacfolio.diagnostics.findings`: the thresholds (:class:`HealthConfig`),
  the rules that turn statistics into findings, and the JSON-able report;
- :mod:`~sacfolio.diagnostics.init_rules`: which values are zero by design at
  initialization and how each kind of layer is re-initialized, from a live module
  or from the keys of a saved state dict;
- :mod:`~sacfolio.diagnostics.repair`: re-initializing dead, zeroed or exploding
  tensors of a live learner or of a saved checkpoint;
- :mod:`~sacfolio.diagnostics.checkpoint`: reading version directories, ``.pt``
  state dicts and Stable-Baselines3 ``.zip`` files into per-layer reports;
- :mod:`~sacfolio.diagnostics.doctor`: can this installation train and serve?
"""
