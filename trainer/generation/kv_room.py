"""A KV cache that appends decode steps in place, in room reserved up front, instead of re-concatenating.

Why: transformers' DynamicLayer appends each step with `torch.cat`, which copies the layer's whole cache,
so a rollout copies O(length^2) keys and values. On the 21.5M-param benchmark model, 16 rows x 32 new
tokens, those copies were 15 % of the rollout's CPU time (profiled: 0.10 of 0.69 s); in place, a rollout
took 8 % less CPU time (median of 8 alternated runs, 2.28 vs 2.48 s). The attention still sees exactly the
filled part (a view of the buffer), so the outputs are those of DynamicLayer, bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class RoomyLayer(DynamicLayer):
    """A DynamicLayer whose keys and values are views of buffers with room for `room` more tokens."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        start = self.get_seq_length()
        end = start + key_states.shape[-2]
        if not self._owns_current_views() or end > self._capacity():
            self._reserve(key_states, value_states, end + self.room)
        assert self._buffers is not None
        keys, values = self._buffers
        keys[..., start:end, :].copy_(key_states)
        values[..., start:end, :].copy_(value_states)
        self.keys, self.values = keys[..., :end, :], values[..., :end, :]
        return self.keys, self.values

    def _owns_current_views(self) -> bool:
        # Whatever reassigns keys (batch_select_indices, crop, reset...) leaves the buffers stale.
        if self._buffers is None or self.keys is None:
            return False
        buffer = self._buffers[0]
        return self.keys.data_ptr() == buffer.data_ptr() and self.keys.shape[:-2] == buffer.shape[:-2]

    def _capacity(self) -> int:
        return 0 if self._buffers is None else self._buffers[0].shape[-2]

    def _reserve(self, key_states: torch.Tensor, value_states: torch.Tensor, capacity: int) -> None:
        """Fresh buffers shaped like the incoming states, holding what is cached so far."""
        filled = self.get_seq_length()
        buffers = []
        for current, incoming in ((self.keys, key_states), (self.values, value_states)):
            buffer = incoming.new_empty((*incoming.shape[:-2], capacity, incoming.shape[-1]))
            if filled:
                assert current is not None
                buffer[..., :filled, :].copy_(current)
            buffers.append(buffer)
        self._buffers = (buffers[0], buffers[1])


def make_room(cache: Any, room: int) -> Any:
    """Swap each plain DynamicLayer of `cache` for a RoomyLayer holding the same; other kinds stay."""
    for index, layer in enumerate(cache.layers):
        if type(layer) is DynamicLayer:
            roomy = RoomyLayer(room)
            roomy.__dict__.update(vars(layer))
            cache.layers[index] = roomy
    return cache
