"""A hybrid classifier of scikit-learn's digits: ANN -> A2S HU -> SNN -> S2A HU -> ANN, trained jointly."""

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from hnn_fast import nn as hnn

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16
y = torch.tensor(digits.target)
T, train, test = 8, torch.arange(1500), torch.arange(1500, 1797)
model = nn.Sequential(
    nn.Linear(64, 64),
    hnn.A2SHU(T, "rate", nonlinearity="sigmoid"),  # values -> spikes [T, B, 64]
    hnn.TimeDistributed(nn.Linear(64, 128)),
    hnn.LIF(decay=0.5, surrogate="atan"),
    hnn.S2AHU(window=T, keep_window_dim=False),  # spike rates [B, 128]
    nn.Linear(128, 10),
)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for _epoch in range(15):
    for batch in train[torch.randperm(len(train))].split(64):
        loss = F.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
with torch.no_grad():
    accuracy = (model(x[test]).argmax(1) == y[test]).float().mean()
print(f"hybrid test accuracy {accuracy:.3f}")
assert accuracy > 0.85
