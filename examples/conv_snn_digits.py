"""A convolutional spiking classifier of scikit-learn's 8x8 digits: Conv-BN-LIF blocks over [T, B, ...]."""

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from hnn_fast import nn as hnn

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16  # [N, 1, 8, 8]
y = torch.tensor(digits.target)
T, train, test = 4, torch.arange(1500), torch.arange(1500, 1797)
model = nn.Sequential(
    hnn.TimeDistributed(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16)),
    hnn.LIF(decay=0.5, surrogate="atan", param_shape=(16, 1, 1), learn_threshold=True),
    hnn.TimeDistributed(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 10)),
    hnn.LeakyIntegrator(decay=0.5),  # the readout membrane
)
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for _epoch in range(4):
    model.train()
    for batch in train[torch.randperm(len(train))].split(64):
        loss = F.cross_entropy(model(x[batch].expand(T, -1, -1, -1, -1)).mean(0), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
model.eval()
with torch.no_grad():
    accuracy = (model(x[test].expand(T, -1, -1, -1, -1)).mean(0).argmax(1) == y[test]).float().mean()
print(f"conv SNN test accuracy {accuracy:.3f}")
assert accuracy > 0.9
