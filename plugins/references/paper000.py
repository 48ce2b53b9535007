"""Paper 000 (HLSNC-GAN): the numbers it reports on the Kaggle unpaired brain MR/CT set.

Transcribed: Table 9, MR→CT on the Kaggle dataset (2 methods × PSNR, SSIM). Left out:
Tables 5–8, which are on the "A40B57" paired set (the paper's refs. [41] and [59]); medganbench
has no such dataset, and a reported row must name the dataset it was measured on.
``image_size`` is left unset: Sec. IV-B says the Kaggle images were resized to 512×512, while
the networks (Tables 2–4) take 256×256 input, and the paper does not say at which size Table 9
was evaluated.
"""

from __future__ import annotations

from medganbench.core.hookspecs import hookimpl
from medganbench.core.specs import ReportedResult

SOURCE = "paper 000 (HLSNC-GAN)"
_PSNR_NOTE = (
    "the paper's own PSNR convention; about 50 dB for MR→CT is a convention artefact "
    "(careful challenges report about 30 dB), so it is not comparable with measured PSNR"
)
_SSIM_NOTE = "the paper's own SSIM settings and test split"
_SIZE_NOTE = "; evaluation size not stated (data resized to 512×512, networks take 256×256)"

#: Table 9, "The Kaggle dataset consists of MR images transformed into CT images":
#: method → (PSNR, SSIM), as printed.
TABLE9: dict[str, tuple[float, float, str | None]] = {
    "Cycle-GAN": (49.7621, 0.9130, "cyclegan"),
    "HLSNC-GAN(Our)": (50.2093, 0.9483, "hlsnc"),
}


@hookimpl
def medganbench_reported_results() -> list[ReportedResult]:
    results = []
    for method, (psnr, ssim, model) in TABLE9.items():
        for metric, value, note in (("psnr", psnr, _PSNR_NOTE), ("ssim", ssim, _SSIM_NOTE)):
            results.append(
                ReportedResult(
                    source=SOURCE,
                    table="Table 9",
                    method=method,
                    model=model,
                    dataset="kaggle-brain",
                    direction="a2b",
                    metric=metric,
                    value=value,
                    note=note + _SIZE_NOTE,
                )
            )
    return results
