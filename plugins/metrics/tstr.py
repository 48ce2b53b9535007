"""Train on synthetic, test on real: ``tstr-dice``.

Does a segmenter trained on the model's translations work on real patients? The model translates
the real **training** images of its source domain (the runner hands them over:
:class:`~medganbench.core.metric.TrainingTranslations`); the harness's segmenter is trained, under
one recipe and seed, on

* (a) ``real``: the real target-domain training images with their label maps (cached: trained
  once per dataset, domain, recipe and seed, and the same segmenter ``seg-dice`` uses);
* (b) ``synthetic``: the translated training images with the source's label maps;
* (c) ``both``: the two sets together;

and each is scored on the **real** evaluation images of the target domain against their label
maps (mean foreground Dice, as ``seg-dice``). The value is (b); the details hold all three and
the ratio (b)/(a), the share of the real data's utility the synthetic data keeps. Arms (b) and
(c) are trained by every run (evaluation time).
"""

from __future__ import annotations

from typing import Any

import torch

from medganbench.core.metric import EvalBatch, MetricReport
from medganbench.errors import RunError
from medganbench_plugins.metrics.overlap import dice_per_class
from medganbench_plugins.metrics.segmentation import LabelMetric, foreground_mean, recipe_of
from medganbench_plugins.metrics.segmenter import segment, train_segmenter


class TSTRDice(LabelMetric):
    """Dice on real test images of segmenters trained on real, translated and both (see the
    module); the value is the translated arm's. Not scored per patient: its segmenters are
    scored on the whole evaluation split."""

    higher_is_better = True
    per_class = staticmethod(dice_per_class)
    convention = (
        "train on synthetic, test on real: basicunet trained on (a) the real target training "
        "images, (b) the model's translations of the source training images, (c) both, each "
        "with the training label maps, scored by mean foreground Dice on the real evaluation "
        "images; value = (b); details: real, synthetic, both, ratio = synthetic / real"
    )

    def reset(self) -> None:
        super().reset()
        self._train_preds: list[torch.Tensor] = []
        self._train_labels: list[torch.Tensor] = []

    def update(self, batch: EvalBatch) -> None:
        if batch.target_labels is None:
            raise RunError("tstr-dice needs the label maps of the real evaluation images.")
        self._targets.append(batch.target.detach().float().cpu())
        self._target_labels.append(batch.target_labels.cpu())
        self._window, self._domain = batch.window, batch.domain
        self._channels = int(batch.target.shape[1])

    def update_training(self, batch: EvalBatch) -> None:
        if batch.labels is None:
            raise RunError("tstr-dice needs the label maps of the training images.")
        self._train_preds.append(batch.pred.detach().float().cpu())
        self._train_labels.append(batch.labels.cpu())

    def _dice_on_real(self, net: torch.nn.Module) -> float:
        assert self._window is not None
        found = segment(net, torch.cat(self._targets), self._window)
        truth = torch.cat(self._target_labels)
        value, _ = foreground_mean(dice_per_class(found[:, 0], truth[:, 0], self._classes()))
        return value

    def compute(self) -> float:
        if not self._targets:
            raise RunError("tstr-dice: no evaluation images were seen.")
        if not self._train_preds:
            raise RunError("tstr-dice: the model's translations of the training split are missing.")
        assert self._window is not None
        if self.ctx.training_labelled is None:
            raise RunError("tstr-dice needs the dataset's labelled training images.")
        recipe, seed = recipe_of(self.args), int(self.args.get("segmenter_seed", 0))
        classes = len(self.ctx.label_classes)
        real_images, real_labels = self.ctx.training_labelled(self._domain)
        synthetic_images, synthetic_labels = (
            torch.cat(self._train_preds),
            torch.cat(self._train_labels),
        )

        def trained(images: torch.Tensor, labels: torch.Tensor) -> torch.nn.Module:
            assert self._window is not None
            return train_segmenter(
                images, labels, classes, self._window, recipe, seed, self.ctx.device
            )

        arms = {
            "real": self._dice_on_real(self._segmenter()),
            "synthetic": self._dice_on_real(trained(synthetic_images, synthetic_labels)),
            "both": self._dice_on_real(
                trained(
                    torch.cat([real_images.float(), synthetic_images]),
                    torch.cat([real_labels, synthetic_labels]),
                )
            ),
        }
        details: dict[str, Any] = {
            **arms,
            "ratio": arms["synthetic"] / arms["real"] if arms["real"] > 0 else None,
            "segmenter": recipe.identity(),
            "segmenter_seed": seed,
            "n_train_real": int(real_images.shape[0]),
            "n_train_synthetic": int(synthetic_images.shape[0]),
            "n_test": int(sum(t.shape[0] for t in self._targets)),
        }
        self._report = MetricReport(details=details)
        return arms["synthetic"]
