"""Downloading the gated study data (``cmu-lti/tau-usi``) with the user's own token."""

from __future__ import annotations

import os
from pathlib import Path

from .. import paths, schema
from ..errors import DataError

#: What to do without a Hugging Face token (neither ``$HF_TOKEN`` nor a stored ``hf auth login``).
NO_TOKEN = (f"no Hugging Face token: accept the terms at {schema.HF_DATASET_URL}, create a read token "
            "(https://huggingface.co/settings/tokens), then `export HF_TOKEN=hf_...` (or run `hf auth login`) "
            "and run `make download` again")
#: What to do when the files are missing and the Hub client is offline by setting.
OFFLINE = ("the files are not there and the Hub client is offline (HF_HUB_OFFLINE=1); run `make download`, "
           "which turns it off, or `HF_HUB_OFFLINE=0 usersim-data download`")
#: What to do when the files are missing and the Hub cannot be reached.
UNREACHABLE = ("the files are not there and the Hugging Face Hub cannot be reached (no network?); connect, check "
               f"that HF_TOKEN belongs to an account that accepted the terms at {schema.HF_DATASET_URL}, and run "
               "`make download` again")


def download(dest: str | os.PathLike[str] | None = None, *, force: bool = False) -> Path:
    """Download ``cmu-lti/tau-usi`` into ``dest`` (default: ``paths.study_dir()``).

    Shows the terms first. When the human file is already there (and not
    ``force``), downloads nothing and makes no network call. Otherwise uses
    ``huggingface_hub.snapshot_download`` with the user's own token (``$HF_TOKEN``
    or the hub's stored login); the user must have accepted the terms on the Hub.
    Raises :class:`DataError` saying what to do when there is no token (before any
    network call: :data:`NO_TOKEN`) or the download fails.
    """
    target = Path(dest).expanduser().resolve() if dest else paths.study_dir()
    print(f"Terms of {schema.HF_REPO_ID}: {schema.TERMS}")
    human_file = target / schema.HUMAN_FILE
    if human_file.is_file() and not force:
        print(f"Already present: {human_file} (nothing downloaded; --force to fetch again)")
        return target
    from huggingface_hub import constants, get_token, snapshot_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    if get_token() is None:  # the dataset is gated: without a token the Hub refuses, or is never reached
        raise DataError(NO_TOKEN, file=target)
    print(f"Downloading {schema.HF_REPO_ID} to {target} ...")
    try:
        snapshot_download(
            repo_id=schema.HF_REPO_ID,
            repo_type=schema.HF_REPO_TYPE,
            local_dir=target,
            token=os.environ.get("HF_TOKEN") or None,
            force_download=force,
        )
    except (GatedRepoError, RepositoryNotFoundError):
        raise DataError(
            f"no access to {schema.HF_REPO_ID}: accept its terms at {schema.HF_DATASET_URL}, then set HF_TOKEN "
            "(or run `hf auth login`)",
            file=target,
        ) from None
    except LocalEntryNotFoundError:  # offline by setting, or the Hub could not be reached
        raise DataError(OFFLINE if constants.HF_HUB_OFFLINE else UNREACHABLE, file=target) from None
    except Exception as exc:  # network and HTTP errors of any transport: one line for the user
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise DataError(f"download failed: {type(exc).__name__}: {first_line}", file=target) from None
    if not human_file.is_file():
        raise DataError(f"download finished but {schema.HUMAN_FILE.as_posix()} is missing", file=target)
    print(f"Done: {target}")
    return target

