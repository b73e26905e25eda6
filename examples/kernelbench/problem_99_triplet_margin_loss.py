"""KernelBench level 1, problem 99 (triplet margin loss): the problem's model and inputs, and
`ModelNew`, the drop-in that computes it with tritium.

The problem: torch.nn.TripletMarginLoss with margin 1.0 (mean reduction, p = 2) over a batch
of 32768 triplets of 8192-element fp32 vectors.
"""
import torch
import torch.nn as nn

import tritium

batch_size = 32768
input_shape = (8192,)


class Model(nn.Module):
    """The problem's reference: PyTorch's triplet margin loss."""

    def __init__(self, margin=1.0):
        super().__init__()
        self.loss_fn = nn.TripletMarginLoss(margin=margin)

    def forward(self, anchor, positive, negative):
        return self.loss_fn(anchor, positive, negative)


class ModelNew(nn.Module):
    """Same constructor and forward; one tritium kernel (fused distances, hinge and mean),
    with autograd."""

    def __init__(self, margin=1.0):
        super().__init__()
        self.loss_fn = tritium.TripletMarginLoss(margin=margin)

    def forward(self, anchor, positive, negative):
        return self.loss_fn(anchor, positive, negative)


def get_inputs(device="cuda"):
    scale = torch.rand(())
    return [torch.rand(batch_size, *input_shape, device=device) * scale,
            torch.rand(batch_size, *input_shape, device=device),
            torch.rand(batch_size, *input_shape, device=device)]


def get_init_inputs():
    return [1.0]  # margin
