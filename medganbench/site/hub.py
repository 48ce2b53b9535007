"""Uploading leaderboards and the site to a Hugging Face Hub dataset repository.

``huggingface_hub`` is an optional dependency (``pip install 'medganbench[hub]'``). Every way
this can fail here — the package missing, no credentials, no network, a refused upload — ends in
one :class:`~medganbench.errors.PublishError` naming the cause, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from medganbench.errors import MedganbenchError, UsageError


class PublishError(MedganbenchError):
    """The upload to the Hub failed (network, credentials or the Hub refused it)."""


def hub_client(option: str = "--to-hub") -> Any:
    """The ``huggingface_hub`` module.

    Raises:
        UsageError: it is not installed (the message names ``option``).
    """
    try:
        import huggingface_hub
    except ImportError:
        raise UsageError(
            f"{option} needs huggingface_hub, which is not installed here.",
            hint="Install it with: python3 -m pip install 'medganbench[hub]'",
        ) from None
    return huggingface_hub


def authenticated_api(option: str) -> Any:
    """An ``HfApi`` with the user's token.

    Raises:
        UsageError: huggingface_hub is missing (the message names ``option``).
        PublishError: no credentials.
    """
    hub = hub_client(option)
    token = hub.get_token()
    if not token:
        raise PublishError(
            "No Hugging Face credentials found, so nothing was uploaded.",
            hint="Log in with `hf auth login`, or set HF_TOKEN to a token with write access.",
        )
    return hub.HfApi(token=token)


@contextmanager
def uploading(target: str, kept: str) -> Iterator[None]:
    """Turn any failure of the upload inside into one :class:`PublishError` naming ``target``
    (``kept``: what was written locally and stays)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - network and HTTP errors come from several libraries
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PublishError(
            f"Uploading to {target} failed: {first}",
            hint=f"Check the network, the token's write access and the repository name; {kept}.",
        ) from None


def upload_to_hub(repo_id: str, site: Path, boards: Sequence[Path]) -> str:
    """Upload ``site`` (as ``site/``) and ``boards`` (as ``leaderboards/``) to a dataset repo.

    Args:
        repo_id: ``ORG/NAME``; the dataset repository is created if it does not exist.
        site: the built site directory.
        boards: the leaderboard files.

    Returns:
        The repository's URL.

    Raises:
        UsageError: ``repo_id`` is malformed or huggingface_hub is missing.
        PublishError: no credentials, no network, or the Hub refused the upload.
    """
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UsageError(f"--to-hub {repo_id!r} is not of the form ORG/NAME.")
    api = authenticated_api("--to-hub")
    with uploading(f"the Hub dataset {repo_id}", "the site was built locally and is unaffected"):
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
        api.upload_folder(folder_path=str(site), repo_id=repo_id, repo_type="dataset", path_in_repo="site",
                          commit_message="medganbench: publish site")  # fmt: skip
        for board in boards:
            api.upload_file(path_or_fileobj=str(board), path_in_repo=f"leaderboards/{Path(board).name}",
                            repo_id=repo_id, repo_type="dataset", commit_message="medganbench: publish leaderboard")  # fmt: skip
    return f"https://huggingface.co/datasets/{repo_id}"
