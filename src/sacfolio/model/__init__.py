"""The bundle serving loads: policy + scaler + layout + settings, no learner."""

from sacfolio.model.bundle import ModelBundle
from sacfolio.model.files import BUNDLE_FILES, bundle_documents, load_bundle

__all__ = ["BUNDLE_FILES", "ModelBundle", "bundle_documents", "load_bundle"]
