"""Helpers for dataset plugins.

Owns: where a downloadable dataset's files are looked for, and the one message when they are not
(:mod:`~medganbench.data.dataroot`); the pixel limit every image decoder checks
(:mod:`~medganbench.data.images`); DICOM files read safely, grouped into anonymous series and
assembled into checked volumes (:mod:`~medganbench.data.dicom` and the ``dicom_*`` modules
behind it).

May import: core, defaults, errors.
"""
