"""Generation backends behind one small interface: token ids and sampling log-probs come back, so nothing
is re-tokenised between generation, reward and loss."""

from rewardkit.trainer.generation.base import Completions, GenerationBackend, SamplingSpec, make_backend

__all__ = ["Completions", "GenerationBackend", "SamplingSpec", "make_backend"]
