"""Built-in experiment trackers: TensorBoard event files and MLflow runs.

Owns: mirroring a run's history records and sample grids to an experiment tracker's store
(``--tracker tensorboard``, ``--tracker mlflow``). Each tracker imports its package only when
it is built, so a run without trackers never imports tensorboard or mlflow.

May import: core.
"""
