"""The two next-week return forecasters: a small LSTM and a PatchTST.

Both map a batch of standardized weekly return windows ``(B, L)`` to one predicted
(standardized) next-week return per window ``(B,)``. They are channel independent:
every stock's window is one sample of the same model, so one network serves all
stocks (Nie et al. 2023, "A Time Series is Worth 64 Words", section 3.1).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LSTMForecaster", "PatchTSTForecaster", "n_patches"]


class LSTMForecaster(nn.Module):
    """One-layer LSTM over the return window; a linear head on the last hidden state.

    Parameters
    ----------
    hidden : int
        LSTM hidden size.
    dropout : float
        Dropout on the last hidden state before the head (training only).
    """

    def __init__(self, *, hidden: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from windows ``x`` of shape (B, L); returns shape (B,)."""
        out, _ = self.lstm(x.unsqueeze(-1))
        return self.head(self.drop(out[:, -1])).squeeze(-1)


def n_patches(lookback: int, patch_len: int, stride: int) -> int:
    """Number of patches of a window of ``lookback`` steps, end-padded by ``stride`` steps.

    Nie et al. (2023), section 3.1: ``N = floor((L - P) / S) + 2``.
    """
    return (lookback - patch_len) // stride + 2


class PatchTSTForecaster(nn.Module):
    """PatchTST: the window is cut into overlapping patches, embedded, and encoded.

    The last value is repeated ``stride`` times at the end (replication padding), the
    series is unfolded into ``n_patches`` patches of ``patch_len`` steps, each patch is
    linearly projected to ``d_model`` and given a learned position embedding, and a
    Transformer encoder mixes the patches. Unlike the paper's flatten head, the head
    is linear on the mean of the patch representations: with ~5,000 training windows
    per year the flatten head (``n_patches * d_model`` weights) overfits weekly
    returns and loses to the zero forecast.

    Parameters
    ----------
    lookback : int
        Window length L.
    patch_len, stride : int
        Patch length P and step S between patch starts.
    d_model, n_heads, n_layers : int
        Encoder width, attention heads (dividing ``d_model``) and layers.
    dropout : float
        Dropout in the encoder and before the head (training only).
    """

    def __init__(self, *, lookback: int = 52, patch_len: int = 8, stride: int = 4,
                 d_model: int = 32, n_heads: int = 4, n_layers: int = 2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.patch_len, self.stride = patch_len, stride
        self.n_patches = n_patches(lookback, patch_len, stride)
        self.pad = nn.ReplicationPad1d((0, stride))
        self.embed = nn.Linear(patch_len, d_model)
        self.position = nn.Parameter(torch.empty(self.n_patches, d_model).uniform_(-0.02, 0.02))
        layer = nn.TransformerEncoderLayer(d_model=d_model, nhead=n_heads,
                                           dim_feedforward=2 * d_model, dropout=dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=n_layers,
                                             enable_nested_tensor=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict from windows ``x`` of shape (B, L); returns shape (B,)."""
        padded = self.pad(x.unsqueeze(1)).squeeze(1)                         # (B, L + S)
        patches = padded.unfold(-1, self.patch_len, self.stride)              # (B, n_patches, P)
        z = self.encoder(self.embed(patches) + self.position)                 # (B, n_patches, D)
        return self.head(self.drop(z.mean(1))).squeeze(-1)
