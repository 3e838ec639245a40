// GPU tests skip where there is no GPU, except where a GPU is required
// (launch/gpu_check.sh sets SISYPHUS_REQUIRE_GPU=1: there a skip would hide a
// GPU that the process cannot see, so it fails instead).
#pragma once

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cstdlib>

#define REQUIRE_GPU()                                                                        \
  do {                                                                                       \
    if (!torch::cuda::is_available()) {                                                      \
      if (std::getenv("SISYPHUS_REQUIRE_GPU"))                                               \
        FAIL() << "no GPU visible, but SISYPHUS_REQUIRE_GPU is set (a GPU machine's check)"; \
      GTEST_SKIP() << "no GPU (launch/gpu_check.sh runs this on one)";                       \
    }                                                                                        \
  } while (0)
