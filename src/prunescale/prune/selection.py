"""Remove layers the user names by index (``--layers i,j,k``)."""

from ..errors import PrunescaleError
from .base import METHODS, PruneMethod


@METHODS.register("selection")
class Selection(PruneMethod):
    defaults = {"layers": None}

    def choose(self, model, n, scores):
        layers = self.settings["layers"]
        if not layers:
            raise PrunescaleError("method 'selection' needs --layers i,j,k")
        return list(layers)
