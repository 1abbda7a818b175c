"""The trunk through ONNX Runtime: exported from the same folded torch weights, cached and fingerprinted.

Why: on CPUs without bfloat16 arithmetic ONNX Runtime runs the folded EfficientNet-Lite0 trunk in
float32 several times faster than torch with the same outputs (cosine 0.99999, docs/performance.md).
torch stays the reference: the export is traced from the torch module the engine would run, and
`LANTERNGUARD_RUNTIME=torch` runs that module directly.

The export is derived data: a file per backbone under the home's `runtime/` folder, named by a
fingerprint of the torch version, the exporter recipe and the weights, so a change of any of them
exports again (and removes the stale file); an unreadable file is exported again too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch

from model.backbones import Backbone

logger = logging.getLogger(__name__)

EXPORT_RECIPE = "onnx/opset17/nchw-dynamic/v1"
"""Names how the export is made; change it when the export changes."""


def onnx_available() -> bool:
    """Return whether ONNX Runtime (and the ONNX exporter's package) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export_fingerprint(backbone: Backbone) -> str:
    """Return a digest of what the export depends on: torch version, recipe, backbone and weights."""
    digest = hashlib.sha256(f"{torch.__version__}|{EXPORT_RECIPE}|{backbone.name}".encode())
    for name, tensor in backbone.trunk.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:20]


def _export(backbone: Backbone, path: Path) -> None:
    """Trace the trunk to ONNX (batch, height and width dynamic) into `path`, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        example = torch.zeros(1, 3, 224, 224)
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                backbone.trunk,
                example,
                name,
                input_names=["images"],
                output_names=["features"],
                dynamic_axes={"images": {0: "n", 2: "h", 3: "w"}, "features": {0: "n", 2: "fh", 3: "fw"}},
                opset_version=17,
                dynamo=False,
            )
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


class OnnxTrunk:
    """Runs an exported trunk: (n, 3, h, w) float32 tensor in, (n, C, h/stride, w/stride) tensor out.

    The session's threads sleep between calls (no spinning), for the same reason as OpenMP's
    PASSIVE wait policy (model/__init__.py): they must not take the cores from decoding and SIFT.
    """

    def __init__(self, path: Path, fingerprint: str, threads: int, runtime: str = "onnx") -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.path = path
        self.fingerprint = fingerprint
        self.runtime = runtime
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        pixels = batch.float().contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {"images": pixels})[0])


def cached_path(folder: Path, prefix: str, fingerprint: str) -> Path:
    """Return `folder/prefix-fingerprint.onnx`, removing the files of other fingerprints of `prefix`.

    Only names of the same prefix and fingerprint length go: the float32 export
    (`efficientnet-lite0-<fp>`) and its int8 model (`efficientnet-lite0-int8-<fp>`) live side by side.
    """
    path = folder / f"{prefix}-{fingerprint}.onnx"
    for stale in folder.glob(f"{prefix}-{'?' * len(fingerprint)}.onnx"):
        if stale != path:
            logger.info("removing the stale model %s (weights, torch or recipe changed)", stale.name)
            stale.unlink(missing_ok=True)
    return path


def load_onnx_trunk(backbone: Backbone, folder: Path) -> OnnxTrunk:
    """Return the trunk exported under `folder`, exporting it first when missing, stale or unreadable."""
    fingerprint = export_fingerprint(backbone)
    path = cached_path(folder, backbone.name, fingerprint)
    threads = torch.get_num_threads()
    if path.exists():
        try:
            return OnnxTrunk(path, fingerprint, threads)
        except Exception as exc:  # onnxruntime raises its own unrelated types for a damaged model
            logger.warning("cached export %s is unreadable (%s); exporting again", path, exc)
    logger.info("exporting %s to ONNX under %s", backbone.name, folder)
    _export(backbone, path)
    return OnnxTrunk(path, fingerprint, threads)
