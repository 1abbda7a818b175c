"""Process-level tuning for CPU inference."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import torch

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 512 * 1024 * 1024
_BF16_CHECKS = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 512 MiB instead of returning them to the kernel.

    Why: every convolution allocates tens of MB; by default glibc maps and unmaps each one, and the
    page faults cost as much CPU as the network itself (measured: 35 -> 65 images/s at 224 px on
    2 cores). Returns whether the setting took (False off glibc).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(
            libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES) and libc.mallopt(_M_TRIM_THRESHOLD, 2 * _KEEP_BYTES)
        )
    except (OSError, AttributeError):
        logger.info("glibc mallopt is not available; running with the default allocator settings")
        return False


def machine_precision() -> str:
    """Return "bfloat16" where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), else "float32".

    Why: on such CPUs oneDNN runs the trunk's convolutions in bfloat16 about twice as fast, and the
    descriptors stay within a cosine of 0.997 of float32 ones (docs/performance.md).
    """
    native = (getattr(torch.cpu, name, lambda: False) for name in _BF16_CHECKS)
    return "bfloat16" if any(check() for check in native) else "float32"
