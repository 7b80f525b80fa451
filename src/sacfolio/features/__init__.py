"""State features: named blocks on the panel's dates, point in time, scaled on training rows."""

from sacfolio.features.blocks import FeatureSet
from sacfolio.features.price import price_features
from sacfolio.features.scaler import FeatureScaler

__all__ = ["FeatureScaler", "FeatureSet", "price_features"]
