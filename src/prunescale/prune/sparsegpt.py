"""SparseGPT (Frantar & Alistarh, 2023): prune and update the remaining weights row-wise by Optimal Brain
Surgeon, with one inverse Hessian shared by all rows.

Per projection, H = 2 X^T X / tokens over the layer's real calibration tokens (earlier layers already pruned),
dead inputs (H_jj = 0) zeroed, H += damp * mean(diag H) * I (damp 0.01); U = the upper Cholesky factor of
H^-1. Columns are processed left to right in blocks of 128: a block's mask is chosen when the block starts
(the lowest w^2 / U_jj^2 of the block's current weights; with N:M, every M columns within each row), each
column's pruned weights are set to zero and the error (w - q) / U_jj spread onto the later columns of the
block through row j of U, and the block's accumulated error onto all later columns at once (lazy batch
updates; equal to updating column by column). We take exactly round(s * block size) weights per block where
the published code thresholds at the sorted value (one more weight on ties).
"""

from __future__ import annotations

import torch

from ..errors import PrunescaleError
from .base import METHODS, MethodOption
from .sparsity import UnstructuredMethod, projections


@METHODS.register("sparsegpt")
class SparseGPT(UnstructuredMethod):
    needs_calibration = True
    options = (
        MethodOption("blocksize", int, 128, "columns per lazy-update block (default 128)"),
        MethodOption("damp", float, 0.01, "Hessian dampening, a share of its mean diagonal (default 0.01)"),
    )

    def prune_layer(self, i, layer, sparsity, nm, inputs):
        hessians: dict[str, torch.Tensor] = {}
        counts: dict[str, int] = {}

        def add(name, x):
            hessians[name] = hessians.get(name, 0) + x.T.double() @ x.double()
            counts[name] = counts.get(name, 0) + x.shape[0]

        inputs.run(i, add)
        for name, mod in projections(layer).items():
            h = (2 * hessians[name] / max(counts[name], 1)).float()
            new = sparsegpt_prune(mod.weight.detach().float(), h, sparsity, nm,
                                  self.settings["blocksize"], self.settings["damp"])
            mod.weight.copy_(new.to(mod.weight.dtype))


@torch.no_grad()
def sparsegpt_prune(w: torch.Tensor, h: torch.Tensor, sparsity: float, nm: tuple[int, int] | None = None,
                    blocksize: int = 128, damp: float = 0.01) -> torch.Tensor:
    """The SparseGPT update of one weight matrix ``w`` [rows, cols] given the Hessian ``h`` [cols, cols]."""
    w, h = w.clone().float(), h.clone().float()
    cols = w.shape[1]
    if nm is not None and (cols % nm[1] or blocksize % nm[1]):
        raise PrunescaleError(f"--pattern {nm[0]}:{nm[1]} needs input sizes and the block size divisible by "
                              f"{nm[1]}; a projection has {cols} inputs, blocks are {blocksize}")
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * torch.mean(torch.diag(h)) * torch.eye(cols, dtype=h.dtype, device=h.device)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1, u1 = w[:, i1:i2].clone(), u[i1:i2, i1:i2]
        q1, err1 = torch.zeros_like(w1), torch.zeros_like(w1)
        d = torch.diag(u1)
        mask1 = torch.zeros_like(w1, dtype=torch.bool)
        if nm is None:
            sal = (w1 ** 2 / d[None, :] ** 2).flatten()
            k = round(sal.numel() * sparsity)
            if k:
                mask1.view(-1)[torch.topk(sal, k, largest=False).indices] = True
        for c in range(i2 - i1):
            if nm is not None and c % nm[1] == 0:
                sal = w1[:, c:c + nm[1]] ** 2 / d[c:c + nm[1]][None, :] ** 2
                mask1.scatter_(1, c + torch.argsort(sal, dim=1, stable=True)[:, :nm[1] - nm[0]], True)
            col = w1[:, c]
            q = col.clone()
            q[mask1[:, c]] = 0
            q1[:, c] = q
            e = (col - q) / d[c]
            w1[:, c:] -= e[:, None] @ u1[c, c:][None, :]
            err1[:, c] = e
        w[:, i1:i2] = q1
        w[:, i2:] -= err1 @ u[i1:i2, i2:]
    return w
