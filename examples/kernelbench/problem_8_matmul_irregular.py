"""KernelBench level 1, problem 8 (matrix product with irregular shapes): the problem's model
and inputs, and `ModelNew`, the drop-in that computes it with tritium.

The problem: C = A @ B in fp32 with M = 8205, K = 2949, N = 5921 (no size is a multiple of
16, so rows are not 16-byte aligned). Like the reference's torch.matmul, ModelNew follows
torch.set_float32_matmul_precision: 'highest' (torch's default) is fp32-accurate; 'high' is
TF32 with operands rounded to nearest. (At K = 2949, TF32's error is of the order of
KernelBench's atol = rtol = 1e-2 on elements near zero, for torch's TF32 as for tritium's.)
"""
import torch
import torch.nn as nn

import tritium

M, K, N = 8205, 2949, 5921


class Model(nn.Module):
    """The problem's reference: torch.matmul."""

    def forward(self, A, B):
        return torch.matmul(A, B)


class ModelNew(nn.Module):
    """Same forward, by tritium (with autograd); `precision` overrides torch's setting."""

    def __init__(self, precision=None):
        super().__init__()
        self.precision = precision

    def forward(self, A, B):
        return tritium.matmul(A, B, precision=self.precision)


def get_inputs(device="cuda"):
    return [torch.randn(M, K, device=device), torch.randn(K, N, device=device)]


def get_init_inputs():
    return []
