"""One APIRouter per resource; :mod:`sacfolio.serve.app` assembles them."""
