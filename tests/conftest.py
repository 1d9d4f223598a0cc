import pytest
import torch

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: for tiny tensors extra threads only contend on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def assert_close(name: str, actual: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float) -> None:
    """Print the largest difference first (visible with -s or on failure), then assert."""
    diff = (actual.double() - expected.double()).abs().max().item() if actual.numel() else 0.0
    print(f"{name}: max abs diff {diff:.3e}")
    torch.testing.assert_close(
        actual.to(expected.dtype), expected, atol=atol, rtol=rtol, msg=lambda m: f"{name}: {m}"
    )
