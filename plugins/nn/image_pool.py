"""The history pool of generated images (Shrivastava et al. 2017; CycleGAN Sec. 4).

The discriminator is shown, half of the time, an older generated image instead of the newest
one, which damps oscillation between generator and discriminator.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class ImagePool:
    """A buffer of up to ``size`` generated images.

    Args:
        size: capacity; 0 disables the pool (:meth:`query` returns its input).
        seed: seeds the pool's own RNG, so runs are reproducible and checkpoints resume exactly.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: list[Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: Tensor) -> Tensor:
        """Store ``images`` and return a batch of the same shape to show the discriminator.

        While the pool fills, each image is stored and returned. Once full, each image is, with
        probability ½, swapped for a random stored one (which is returned instead), otherwise
        returned as is.
        """
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif float(torch.rand((), generator=self.generator)) < 0.5:
                index = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[index].clone())
                self.images[index] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        """Stored images and RNG state."""
        return {"images": [t.cpu() for t in self.images], "rng": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        """Restore :meth:`state_dict`'s output, moving the images to ``device``."""
        self.images = [t.to(device) for t in state["images"]]
        self.generator.set_state(state["rng"])
