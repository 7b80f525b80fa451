"""Where a model name's registry lives: a Hugging Face repo, ``$SACFOLIO_HOME`` or ``./models``."""

from __future__ import annotations

import os

__all__ = ["HF_REPO_ENV", "default_root", "registry_root_for"]

HF_REPO_ENV = {"sac_lstm": "HF_SAC_LSTM_MODEL_REPO", "sac_patchtst": "HF_SAC_PATCHTST_MODEL_REPO"}
"""Environment variables holding a Hugging Face repo per model name."""


def default_root() -> str:
    """``$SACFOLIO_HOME`` when set, else ``./models``."""
    return os.environ.get("SACFOLIO_HOME") or "./models"


def registry_root_for(model_name: str) -> str:
    """Registry root of one model name.

    ``hf://<repo>`` when the name's variable in :data:`HF_REPO_ENV`
    (``HF_SAC_LSTM_MODEL_REPO`` for ``sac_lstm``, ``HF_SAC_PATCHTST_MODEL_REPO`` for
    ``sac_patchtst``) is set, otherwise :func:`default_root`.
    """
    var = HF_REPO_ENV.get(model_name)
    repo = os.environ.get(var, "").strip() if var else ""
    if not repo:
        return default_root()
    return repo if repo.startswith("hf://") else f"hf://{repo.strip('/')}"
