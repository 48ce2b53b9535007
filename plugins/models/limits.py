"""Upper limits of the built-in models' size arguments (``Param(maximum=...)``).

Each is far above what the models' references use (channel widths of 64 to 512, 6 or 9 residual
blocks, 1000 diffusion steps, 256 intensity bins), so no sensible run is refused, while a typo
(``ngf=10000000``) is one message instead of an allocation of terabytes. A maximum checks values
only: it is not part of any run id, and adding one changes no model's version.
"""

from __future__ import annotations

#: Channels, hidden units, latent and code dimensions (references: 64 to 512).
MAX_WIDTH = 4096
#: Residual blocks per network or level (references: 2 to 9).
MAX_DEPTH = 64
#: Source intensity bins of intensity-lookup (reference: 256; 65536 covers 16-bit data).
MAX_BINS = 2**16
#: Diffusion steps T (reference: 1000).
MAX_TIMESTEPS = 100_000
#: Categorical latent codes of InfoGAN (reference: 1).
MAX_CODES = 64
