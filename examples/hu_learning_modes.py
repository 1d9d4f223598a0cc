"""The paper's three ways to train a learnable HU (Fig. 1e) on one small hybrid model: an SNN feature
layer, a learnable S2A HU (a learned temporal kernel), an ANN head regressing the inputs' mean."""

import torch
from torch import nn

from hnn_fast import nn as hnn

torch.manual_seed(0)
T = 8
snn = nn.Sequential(hnn.A2SHU(T, "latency"))  # the SNN front end: inputs in [0, 1] as spike times
hu = hnn.S2AHU(window=T, learn_kernel=True, keep_window_dim=False)
head = nn.Linear(4, 1)
model = nn.Sequential(snn, hu, head)


def batches(n):
    return [torch.rand(64, 4) for _ in range(n)]


def model_loss(m, v):
    return ((m(v) - v.mean(1, keepdim=True)) ** 2).mean()


# (2) independently: the HU alone learns to decode its input's own value (latency), then is frozen
first = hnn.fit(hu, lambda h, v: ((h(snn(v)) - v) ** 2).mean(), batches(300), lr=0.05)
hnn.set_trainable(hu, False)
# (1) jointly with the network it is installed in: the ANN head trains on the frozen HU's output
head_losses = hnn.fit(model, model_loss, batches(200), lr=0.05)
# (3) with the complete model: every group trainable, the hybrid model's loss trains them all
hnn.set_trainable(hu, True)
assert len(hnn.hu_parameters(model)) == 1 and len(hnn.network_parameters(model)) == 2
complete = hnn.fit(model, model_loss, batches(100), lr=0.01)
print(f"HU alone {first[0]:.4f} -> {first[-1]:.4f}; head {head_losses[-1]:.5f}; complete {complete[-1]:.5f}")
assert first[-1] < 0.2 * first[0] and complete[-1] < 0.01
