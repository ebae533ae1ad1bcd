"""Files written atomically: a crash mid-write never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import save_file
from torch import Tensor

_UMASK = os.umask(0)
os.umask(_UMASK)


def _temporary_sibling(path: Path) -> Path:
    """A unique hidden name beside ``path``: same folder, so same file system, so the rename is atomic."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` reworded to name ``path``, the file the caller asked for, not the temporary sibling;
    same class (PermissionError, …) and errno."""
    message = f"cannot write '{path}': {err.strerror or err}"
    try:
        renamed = type(err)(message)
    except TypeError:  # a library subclass with a constructor of its own
        renamed = OSError(message)
    renamed.errno = err.errno
    return renamed


def check_writable(path: str | os.PathLike) -> None:
    """Raise an OSError naming ``path`` if it cannot be written, so long work fails before it starts.

    Creates and removes a temporary sibling (permission bits alone say nothing for root or for
    special file systems such as /proc); folders still to be created are checked at the nearest
    existing one, and none is created here.

    Raises:
        OSError: ``path`` is a folder, lies below a file, or its folder does not accept new files.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write '{path}': it is a folder")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"cannot write '{path}': '{folder}' is a file, not a folder")
    probe = _temporary_sibling(folder / path.name)
    try:
        probe.open("xb").close()
    except OSError as err:
        raise _naming(err, path) from err
    probe.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it is synced and renamed to ``path``.

    ``os.replace`` is atomic on POSIX and Windows when both names are on one file system,
    which a sibling guarantees. On any error the temporary file is removed and ``path`` is
    left as it was. Parent folders are created. An OSError names ``path``, not the sibling.
    """
    path = Path(path)
    tmp = _temporary_sibling(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The writer creates tmp, and it gets umask permissions before the rename.
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # some writers (safetensors) create files owner-only
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise _naming(err, path) from err
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp: Path) -> None:
    """Remove a temporary file if it was created; an unwritable folder may not let us look."""
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, payload: object, indent: int = 2) -> None:
    """Write ``payload`` as sorted JSON atomically (a crash leaves the previous file)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=indent, sort_keys=True) + "\n")


def save_safetensors_atomic(tensors: dict[str, Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (moved to CPU, made contiguous) to a safetensors file atomically.

    Raises:
        OSError: the file cannot be written; the message names ``path``.
    """
    with atomic_path(path) as tmp:
        try:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
        except SafetensorError as err:  # its I/O failures are not OSErrors; the message ends with tmp's name
            reason = str(err).split(" at path ")[0].removeprefix("Error while serializing: ")
            raise OSError(reason) from err
    return Path(path)
