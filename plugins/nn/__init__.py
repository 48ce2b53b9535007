"""Network building blocks shared by the built-in model plugins.

Normalisation layers (including Switchable Normalization), generators (ResNet, U-Net), the
PatchGAN discriminator, adversarial losses, the history image pool and training helpers
(optimisers, learning-rate schedule, autocast). Third-party model plugins may import them too.

Owns: the blocks every model is assembled from (norms, attention, generators, discriminators,
losses, samplers, training helpers), defined once.

May import: errors.
"""
