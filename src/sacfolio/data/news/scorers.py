"""Sentiment scorers: texts -> scores in [-1, 1]; VADER (rule based) or a local FinBERT model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from sacfolio.exceptions import ConfigError, MissingDependencyError

__all__ = ["FinBertScorer", "SentimentScorer", "VaderScorer"]


class SentimentScorer(Protocol):
    """Maps texts to sentiment scores in [-1, 1] (negative to positive)."""

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Scores of shape (len(texts),)."""
        ...


class VaderScorer:
    """VADER compound score (Hutto & Gilbert 2014), offline and rule based."""

    def __init__(self) -> None:
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:
            raise MissingDependencyError("VADER scoring needs the vaderSentiment package: "
                                         "pip install vaderSentiment") from exc
        self._analyzer = SentimentIntensityAnalyzer()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Compound scores in [-1, 1], shape (len(texts),)."""
        return np.array([self._analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


class FinBertScorer:
    """A local FinBERT-style sequence classifier: score = P(positive) - P(negative).

    Parameters
    ----------
    model_dir : path
        Directory saved by ``save_pretrained`` (``config.json`` with ``id2label`` naming
        positive and negative labels, plus weights). Nothing is downloaded.
    batch_size : int
        Texts per forward pass.
    """

    def __init__(self, model_dir: str | Path, *, batch_size: int = 32) -> None:
        root = Path(model_dir)
        config_path = root / "config.json"
        if not config_path.is_file():
            raise ConfigError(f"sentiment model directory {str(root)!r} is not a model: it has no "
                              "config.json. Pass a directory written by save_pretrained().")
        try:
            labels = {int(k): str(v).lower() for k, v in json.loads(config_path.read_text())["id2label"].items()}
        except (json.JSONDecodeError, KeyError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{config_path} has no readable id2label mapping ({exc!r}); it is not a "
                              "sentiment classifier.") from exc
        if "positive" not in labels.values() or "negative" not in labels.values():
            raise ConfigError(f"model labels {sorted(labels.values())} in {config_path} lack "
                              "'positive' and 'negative'; it is not a sentiment classifier.")
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError("FinBERT scoring needs the transformers package: "
                                         "pip install transformers (or use the default VADER scorer)") from exc
        self._tokenizer = AutoTokenizer.from_pretrained(root, local_files_only=True)
        self._model = AutoModelForSequenceClassification.from_pretrained(root, local_files_only=True).eval()
        inverse = {v: k for k, v in labels.items()}
        self._pos, self._neg, self._batch = inverse["positive"], inverse["negative"], batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) - P(negative) per text, shape (len(texts),)."""
        import torch

        out = []
        with torch.no_grad():
            for b in range(0, len(texts), self._batch):
                enc = self._tokenizer(list(texts[b:b + self._batch]), padding=True, truncation=True,
                                      return_tensors="pt")
                prob = torch.softmax(self._model(**enc).logits, dim=-1)
                out.append((prob[:, self._pos] - prob[:, self._neg]).double().numpy())
        return np.concatenate(out) if out else np.zeros(0)
