"""The CUDA kernels' code, run without a GPU: each kernel's per-thread body (csrc/grid/) over every
(block, thread) of the grid its launcher uses, on the CPU, against the CPU kernel on the same buffers
(the internal ops hnn_fast::_grid_*, csrc/grid/harness.cpp).

Both kernels compute the same per-element math in the same order, so every output must agree bit for
bit, in every dtype. The grid's outputs start as NaN: an element no thread writes differs. Cases run
the launcher's own grid (blocks=0) at odd sizes, where the last block is partly idle, and small grids
(blocks 1 to 3) over more neurons than threads, where each thread takes several neurons through the
grid-stride loop; an accumulated output (lif_recurrent's backward) starts from nonzero values, so a
neuron visited twice differs too. The 64-bit index arithmetic is checked beyond 2^31 elements on
sampled threads, from the offsets the bodies compute, without a buffer of that size.
"""

import pytest
import torch

from hnn_fast.options import ENCODE_MODES, NONLINEARITIES, SURROGATE_ALPHA

from helpers import assert_equal

grid = torch.ops.hnn_fast

THREADS = 256
MAX_BLOCKS = 2**20
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
# (N, blocks): the launcher's grid at odd sizes, then grids smaller than N (the grid-stride tail).
SIZES = [(1, 0), (255, 0), (257, 0), (1001, 0), (1001, 1), (2 * THREADS + 1, 2), (3001, 3)]


def acc(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def sequence(T: int, N: int, dtype, g, layout: str = "contiguous", low=-0.2, high=1.2) -> torch.Tensor:
    """[T, N] with neurons contiguous and the step stride given by layout: N, padded (> N), 0 (one
    step broadcast over time) or overlapping (0 < stride < N)."""
    draw = lambda *shape: (torch.rand(shape, generator=g, dtype=torch.float64) * (high - low) + low).to(dtype)  # noqa: E731
    if layout == "padded":
        return draw(T, N + 7)[:, :N]
    if layout == "broadcast":
        return draw(1, N).expand(T, N)
    if layout == "overlapping":
        return draw(3 * T + N).as_strided((T, N), (3, 1))
    return draw(T, N)


def compare(name: str, result) -> None:
    cpu, on_grid = result
    assert len(cpu) == len(on_grid)
    for i, (c, g) in enumerate(zip(cpu, on_grid)):
        assert_equal(f"{name}[{i}]", g, c)


# ---- the grid ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 2**28 - 1, 2**28, 2**28 + 1, 2**31 + 5, 2**40])
def test_launch_grid(n):
    assert grid._grid_blocks(n) == min(-(-n // THREADS), MAX_BLOCKS)


@pytest.mark.parametrize("count,blocks", [(1, 1), (255, 1), (1337, 2), (3001, 3), (4096, 4)])
def test_threads_cover_every_neuron_once(count, blocks):
    visited = torch.cat(
        [grid._grid_offsets(count, blocks, b, t, 0, 0) for b in range(blocks) for t in range(THREADS)]
    )
    assert torch.equal(visited.sort().values, torch.arange(count))


# Sampled threads of launches beyond 2^31 elements: the last thread of the largest grid, one in the
# middle, the first; steps t such that t * stride_t + n passes 2^32 and 2^40.
@pytest.mark.parametrize("count", [2**32 + 3, 2**33 + 5, 2**40 + 7])
@pytest.mark.parametrize("block,thread", [(MAX_BLOCKS - 1, THREADS - 1), (MAX_BLOCKS // 2 + 1, 17), (0, 0)])
@pytest.mark.parametrize("t,stride_t", [(0, 0), (1, 2**31 + 3), (3, 2**33 + 5), (2**20, 2**21 + 1)])
def test_offsets_beyond_2_31(count, block, thread, t, stride_t):
    blocks = grid._grid_blocks(count)
    assert blocks == MAX_BLOCKS
    first, step = block * THREADS + thread, blocks * THREADS
    expected = [t * stride_t + n for n in range(first, count, step)]
    got = grid._grid_offsets(count, blocks, block, thread, t, stride_t).tolist()
    assert got == expected
    assert max(expected) >= 2**31


# ---- the kernels ------------------------------------------------------------------------------------


@pytest.mark.parametrize("N,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_lif(N, blocks, dtype, reset):
    g, T, a = gen(N + blocks), 7, acc(dtype)
    x = sequence(T, N, dtype, g, "padded" if N % 2 else "contiguous")
    v0 = torch.rand(N, generator=g, dtype=a) - 0.5
    decay = torch.rand(N, generator=g, dtype=a)
    threshold = 0.5 + torch.rand(N, generator=g, dtype=a)
    compare("lif", grid._grid_lif(x, v0, decay, 0.0, threshold, 1.0, reset, 0.1, True, blocks))
    # Scalars for every parameter, no h.
    compare("lif scalars", grid._grid_lif(x, None, None, 0.8, None, 0.9, reset, -0.2, False, blocks))
    # A per-step threshold and an input broadcast over time.
    steps = 0.5 + torch.rand(T, N, generator=g, dtype=a)
    x0 = sequence(T, N, dtype, g, "broadcast")
    compare("lif per-step", grid._grid_lif(x0, None, decay, 0.0, steps, 1.0, reset, 0.0, True, blocks))


@pytest.mark.parametrize("N,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("surrogate", list(SURROGATE_ALPHA))
def test_lif_backward(N, blocks, dtype, reset, surrogate):
    g, T, a = gen(N + blocks), 6, acc(dtype)
    h = (torch.rand(T, N, generator=g, dtype=torch.float64) * 2 - 0.2).to(a)
    grad_spikes = torch.randn(T, N, generator=g, dtype=torch.float64).to(dtype)
    grad_v_last = torch.randn(N, generator=g, dtype=a)
    grad_h = torch.randn(T, N, generator=g, dtype=a)
    v0 = torch.rand(N, generator=g, dtype=a) - 0.5
    decay = torch.rand(N, generator=g, dtype=a)
    alpha = SURROGATE_ALPHA[surrogate]
    for threshold, detach in [
        (0.5 + torch.rand(N, generator=g, dtype=a), False),
        (0.5 + torch.rand(T, N, generator=g, dtype=a), True),
    ]:
        compare(
            f"lif_backward threshold {list(threshold.shape)}",
            grid._grid_lif_backward(
                grad_spikes,
                grad_v_last,
                grad_h,
                h,
                v0,
                decay,
                0.0,
                threshold,
                1.0,
                reset,
                0.1,
                detach,
                surrogate,
                alpha,
                [True, True],
                blocks,
            ),
        )
    compare(
        "lif_backward scalars",
        grid._grid_lif_backward(
            grad_spikes,
            grad_v_last,
            None,
            h,
            None,
            None,
            0.7,
            None,
            0.9,
            reset,
            0.0,
            False,
            surrogate,
            alpha,
            [False, False],
            blocks,
        ),
    )


@pytest.mark.parametrize("N,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["contiguous", "padded", "broadcast", "overlapping"])
def test_leaky_integrate(N, blocks, dtype, layout):
    g, T, a = gen(N + blocks), 7, acc(dtype)
    x = sequence(T, N, dtype, g, layout)
    v0, decay = torch.randn(N, generator=g, dtype=a), torch.rand(N, generator=g, dtype=a)
    compare("leaky", grid._grid_leaky_integrate(x, v0, decay, 0.0, blocks))
    compare("leaky scalars", grid._grid_leaky_integrate(x, None, None, 0.9, blocks))
    grad, v_seq = sequence(T, N, dtype, g), sequence(T, N, dtype, g)
    compare("leaky_backward", grid._grid_leaky_integrate_backward(grad, v_seq, v0, decay, 0.0, True, blocks))
    compare(
        "leaky_backward scalars",
        grid._grid_leaky_integrate_backward(grad, v_seq, None, None, 0.9, False, blocks),
    )


# (T, window, stride): overlapping windows, gaps between windows, a window longer than T (one padded).
WINDOWS = [(9, 3, 1), (9, 2, 3), (10, 4, 3), (5, 8, 2)]


def window_count(T, window, stride):
    """Full windows plus the padded last one (drop_last=False), as the host code counts them."""
    if window > T:
        return 1
    full = (T - window) // stride + 1
    return full + int((full - 1) * stride + window < T and full * stride < T)


@pytest.mark.parametrize("N,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("T,window,stride", WINDOWS)
def test_hu_window(N, blocks, dtype, T, window, stride):
    g, a = gen(N + blocks + T), acc(dtype)
    K = window_count(T, window, stride)
    x = sequence(T, N, dtype, g, "overlapping" if N % 2 else "padded")
    grad_y = sequence(K, N, dtype, g)
    channels = 3 if N % 3 == 0 else 1
    weights = torch.randn(channels, window, generator=g, dtype=a)
    for kernel, decay, w in [
        ("sum", 0.0, None),
        ("mean", 0.0, None),
        ("exp", 0.8, None),
        ("weights", 0.0, weights),
    ]:
        compare(f"hu_window {kernel}", grid._grid_hu_window(x, K, window, stride, kernel, decay, w, blocks))
        compare(
            f"hu_window_backward {kernel}",
            grid._grid_hu_window_backward(grad_y, x, T, window, stride, kernel, decay, w, True, blocks),
        )
    compare(
        "hu_window_backward, grad_x only",
        grid._grid_hu_window_backward(grad_y, None, T, window, stride, "mean", 0.0, None, True, blocks),
    )
    compare(
        "hu_window_backward, weights only",
        grid._grid_hu_window_backward(grad_y, x, T, window, stride, "weights", 0.0, weights, False, blocks),
    )


@pytest.mark.parametrize("N,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", list(ENCODE_MODES))
def test_hu_encode(N, blocks, dtype, mode):
    g, T, a = gen(N + blocks), 9, acc(dtype)
    values = (torch.rand(N, generator=g, dtype=torch.float64) * 3 - 1).to(dtype)
    uniform = torch.rand(T, N, generator=g, dtype=a) if mode == "poisson" else None
    grad_spikes = torch.randn(T, N, generator=g, dtype=torch.float64).to(dtype)
    for f in NONLINEARITIES:
        compare(f"hu_encode {f}", grid._grid_hu_encode(values, T, mode, f, uniform, blocks))
        compare(
            f"hu_encode_backward {f}", grid._grid_hu_encode_backward(grad_spikes, values, mode, f, blocks)
        )


@pytest.mark.parametrize("M,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_lif_recurrent_step(M, blocks, dtype, reset):
    g, a = gen(M + blocks), acc(dtype)
    x = sequence(1, M, dtype, g)[0]
    recurrent, v = torch.randn(M, generator=g, dtype=a) * 0.5, torch.rand(M, generator=g, dtype=a)
    decay, threshold = torch.rand(M, generator=g, dtype=a), 0.5 + torch.rand(M, generator=g, dtype=a)
    compare(
        "step",
        grid._grid_lif_recurrent_step(x, recurrent, v, decay, 0.0, threshold, 1.0, reset, 0.1, True, blocks),
    )
    compare(
        "step scalars",
        grid._grid_lif_recurrent_step(x, recurrent, v, None, 0.8, None, 0.9, reset, 0.0, False, blocks),
    )


@pytest.mark.parametrize("M,blocks", SIZES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", ["hard", "soft"])
@pytest.mark.parametrize("surrogate", list(SURROGATE_ALPHA))
def test_lif_recurrent_backward_step(M, blocks, dtype, reset, surrogate):
    g, a = gen(M + blocks), acc(dtype)
    vec = lambda: torch.randn(M, generator=g, dtype=a)  # noqa: E731
    grad_spikes = torch.randn(M, generator=g, dtype=torch.float64).to(dtype)
    h, h_prev = 0.5 + vec(), 0.5 + vec()
    decay, threshold, threshold_prev = torch.rand(M, generator=g, dtype=a), 1 + 0.3 * vec(), 1 + 0.3 * vec()
    alpha = SURROGATE_ALPHA[surrogate]
    # A middle step: the gradient through r_{t+1}, v_{t-1} from h_{t-1}; accumulators start nonzero.
    compare(
        "backward step",
        grid._grid_lif_recurrent_backward_step(
            grad_spikes,
            vec(),
            h,
            h_prev,
            threshold_prev,
            None,
            vec(),
            vec(),
            vec(),
            decay,
            0.0,
            threshold,
            1.0,
            reset,
            0.1,
            False,
            surrogate,
            alpha,
            blocks,
        ),
    )
    # The first and last step at once: no recurrent gradient, v_{t-1} = v0, scalars, detach_reset.
    compare(
        "backward step t=0",
        grid._grid_lif_recurrent_backward_step(
            grad_spikes,
            None,
            h,
            None,
            None,
            vec(),
            vec(),
            vec(),
            None,
            None,
            0.9,
            None,
            1.0,
            reset,
            0.0,
            True,
            surrogate,
            alpha,
            blocks,
        ),
    )


# ---- the harness's own arguments --------------------------------------------------------------------


def lif_call(x, v0=None, reset="hard", blocks=0):
    return grid._grid_lif(x, v0, None, 0.5, None, 1.0, reset, 0.0, True, blocks)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda x, v: lif_call(x, blocks=-1), ValueError, "blocks"),
        (lambda x, v: lif_call(x, blocks=MAX_BLOCKS + 1), ValueError, "blocks"),
        (lambda x, v: lif_call(x, v0=v.double()), TypeError, "v0 must be Float"),
        (lambda x, v: lif_call(x, v0=v[:-1]), ValueError, "v0 must have shape"),
        (lambda x, v: lif_call(x.t().contiguous().t()), ValueError, "contiguous neurons"),
        (lambda x, v: lif_call(x[None]), ValueError, r"x must be \[T, N\]"),
        (lambda x, v: lif_call(x, reset="medium"), ValueError, "reset"),
        (lambda x, v: grid._grid_hu_encode(v, 4, "poisson", "identity", None, 0), ValueError, "uniform"),
        (lambda x, v: grid._grid_hu_window(x, 9, 2, 1, "mean", 0.0, None, 0), ValueError, "windows"),
        (lambda x, v: grid._grid_offsets(10, 1, 1, 0, 0, 0), ValueError, "block"),
        (lambda x, v: grid._grid_offsets(10, 1, 0, THREADS, 0, 0), ValueError, "thread"),
        (lambda x, v: grid._grid_blocks(-1), ValueError, "count"),
    ],
)
def test_bad_harness_input_is_refused(call, error, match):
    x, v = torch.rand(5, 4), torch.rand(4)
    with pytest.raises(error, match=match):
        call(x, v)
