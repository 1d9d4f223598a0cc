import pytest
import torch


@pytest.fixture(
    params=[
        "cpu",
        pytest.param(
            "cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
        ),
    ]
)
def device(request) -> str:
    """Each op check runs on the CPU and, where one is present, on a CUDA GPU: one test body for both."""
    return request.param


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: for tiny tensors extra threads only contend on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
