# Helpers that give every sisyphus library the same warnings and, for the
# libraries that use torch, the same precompiled header (one ~25 s parse of
# <torch/torch.h> for the whole build instead of one per translation unit).

function(sisyphus_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# A tiny library that owns the torch precompiled header; every torch target
# reuses it, so all of them must be compiled with identical flags.
function(sisyphus_make_pch_owner)
  add_library(sisyphus_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/pch_owner.cpp)
  target_link_libraries(sisyphus_pch PUBLIC torch)
  if(SISYPHUS_PCH)
    target_precompile_headers(sisyphus_pch PUBLIC <torch/torch.h>)
    # clang: instantiate the header's pending templates once, in the PCH, not
    # again in every translation unit (an empty file: 9.4 s -> 4.5 s)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
      target_compile_options(sisyphus_pch PRIVATE -fpch-instantiate-templates)
    endif()
  endif()
endfunction()

function(sisyphus_use_torch target)
  target_link_libraries(${target} PUBLIC torch)
  if(SISYPHUS_PCH)
    target_precompile_headers(${target} REUSE_FROM sisyphus_pch)
  endif()
endfunction()
