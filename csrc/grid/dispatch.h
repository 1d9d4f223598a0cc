#pragma once

// The choice of a per-thread body for a kernel's dtype (and reset), shared by the CUDA launchers and
// the host harness so that both run the same instantiation. A body is a struct template
// Thread<scalar_t, acc_t[, reset]> with a Params type, count(p) (the neurons of the launch) and
// run(p, first, step) (what one thread of the grid does); `launch` is called with the body as its
// template argument.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/lif.h"

namespace hnn_fast::grid {

template <template <typename, typename> class Thread, typename Launch>
void dispatch(c10::ScalarType dtype, const Launch& launch) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hnn_fast kernel", [&] {
    launch.template operator()<Thread<scalar_t, at::opmath_type<scalar_t>>>();
  });
}

template <template <typename, typename, Reset> class Thread, typename Launch>
void dispatch_reset(c10::ScalarType dtype, Reset reset, const Launch& launch) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hnn_fast kernel", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    if (reset == Reset::Hard) {
      launch.template operator()<Thread<scalar_t, acc_t, Reset::Hard>>();
    } else {
      launch.template operator()<Thread<scalar_t, acc_t, Reset::Soft>>();
    }
  });
}

}  // namespace hnn_fast::grid
