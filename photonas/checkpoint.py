"""Files written atomically: a crash mid-write never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from safetensors.torch import save_file
from torch import Tensor

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it is synced and renamed to ``path``.

    ``os.replace`` is atomic on POSIX and Windows when both names are on one file system,
    which a sibling guarantees. On any error the temporary file is removed and ``path`` is
    left as it was. Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique sibling; the writer creates it, and it gets umask permissions before the rename.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # some writers (safetensors) create files owner-only
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_safetensors_atomic(tensors: dict[str, Tensor], path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write ``tensors`` (moved to CPU, made contiguous) to a safetensors file atomically."""
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    return Path(path)
