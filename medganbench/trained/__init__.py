"""What a run hands back: its trained generator, reloaded, used and shared.

A recorded run leaves ``generator.safetensors`` and ``generator.json`` in its folder
(:mod:`medganbench.run.generator_files`). This package turns them into something to use:
:func:`~medganbench.trained.generator.load_generator` rebuilds the model from its registered
factory and loads the weights (:class:`~medganbench.trained.generator.Generator`, a
``torch.nn.Module``); :mod:`~medganbench.trained.sampling` writes samples and
:mod:`~medganbench.trained.translation` translates images and whole volumes, in the dataset's
physical units, with a manifest; :mod:`~medganbench.trained.export` copies the generator with a
model card (:mod:`~medganbench.trained.card`) and may push it to a Hub.

Owns: reloading generators, ``generate``, ``translate`` and ``export`` (and the volume files
they write, :mod:`~medganbench.trained.volume_files`).

May import: core, data, defaults, errors, fileio, leaderboard, run, site.
"""
