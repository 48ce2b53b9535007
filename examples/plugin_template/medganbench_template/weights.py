"""Template: a weights artifact for medganbench. Copy this file to ship pretrained weights.

A weights plugin returns :class:`WeightsSpec` objects from ``medganbench_weights``. A spec names
the artifact and lists where its raw file comes from; every source pins the file's sha256, and
nothing is used before the file matched it. The weights manager caches the verified file and
converts it to tensors with the source's ``convert`` function, which must read it with a reader
that cannot run code (safetensors here, through medganbench's own ``load_tensors``).

A metric (or model) that needs the file lists the spec in ``weights_needed()`` (so a run fetches
it before training) and calls ``resolve_weights(spec)`` (from ``medganbench.plugin``) then
``.load()``; the file's sha256 lands on every row the metric writes. ``medganbench weights list``
shows the artifact, ``medganbench weights install template-edge-filter --from FILE`` installs a file
fetched by hand, and ``medganbench check weights template-edge-filter --weights-file FILE``
checks that FILE matches the pin and converts. There is no version: the pinned hash is the
identity of the weights, so new weights are a new pin (and rows record the hash).
"""

from __future__ import annotations

from medganbench.plugin import UrlSource, WeightsSpec, hookimpl

#: The sha256 of ``edge_filter.safetensors`` (a 3x3 Sobel kernel, shipped next to this file).
EDGE_FILTER_SHA256 = "aec0890be08d105623a737c9d1ddff4034ca68b25da76f3a15968aca9492754f"

EDGE_FILTER = WeightsSpec(
    name="template-edge-filter",
    summary="Template: a 3x3 Sobel kernel in safetensors (examples/plugin_template).",
    sources=(
        UrlSource(
            # Where the file is published (a release asset, a model hub); example.org is a
            # placeholder: the template's file is in the package, installed by hand.
            url="https://example.org/medganbench-template/edge_filter.safetensors",
            sha256=EDGE_FILTER_SHA256,
            convert="medganbench.plugin:load_tensors",
        ),
    ),
)


@hookimpl
def medganbench_weights() -> list[WeightsSpec]:
    return [EDGE_FILTER]
