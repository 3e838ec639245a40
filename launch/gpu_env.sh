# Sourced by launch/gpu_check.sh: the environment a GPU machine of the device
# tool needs to build and run sisyphus (docs/gpu.md). Idempotent: the second
# part of gpu_check, run on the same warm machine, finds everything in place.
#
# - gpu_bundle/ (launch/make_gpu_bundle.sh, carried) is unpacked into a private
#   prefix, never into /; absolute symbolic links of Debian (libz.so ->
#   /lib/x86_64-linux-gnu/libz.so.1.2.13) are pointed into the prefix;
# - a library that a bundled one needs and the image lacks (`ldd`: "not
#   found") is taken from gpu_bundle/fallback/ (linked into $PREFIX/missing,
#   searched after the bundle's own folders); the image's own copies are used
#   wherever it has them;
# - Open MPI: relocated with OPAL_PREFIX; plm isolated (no ssh client there:
#   Open MPI 4 refuses to start even one local rank without its rsh agent);
#   only the shared-memory and TCP transports, so that the ofi/ucx/openib
#   components (needing libefa, verbs devices) are never opened;
# - CMake generates for Ninja (the image has ninja, not make);
# - torch: the image's own PyTorch (its CUDA runtime, cuDNN and NCCL).
# Sets: GPU_PY (python with torch), SISYPHUS_PYTHON, TORCH_PREFIX, CMAKE_ARGS,
# CMAKE_GENERATOR, PATH, LD_LIBRARY_PATH, OPAL_PREFIX, OMPI_* and GPU_ENV_REPORT
# (what was done, for the results file). Returns non-zero when the bundle is
# missing or a library stays unresolved.

GPU_PREFIX=${GPU_PREFIX:-/tmp/sisyphus-prefix}
GPU_PY=${SISYPHUS_PYTHON:-python3}
GPU_ENV_REPORT=""
_gpu_env_note() { GPU_ENV_REPORT+="$*"$'\n'; }

gpu_env_setup() {
  local root=$1
  local L=$GPU_PREFIX/usr/lib/x86_64-linux-gnu
  if [[ ! -d $root/gpu_bundle ]]; then
    _gpu_env_note "no gpu_bundle/ (make it with launch/make_gpu_bundle.sh and carry it)"
    return 1
  fi
  if [[ ! -f $GPU_PREFIX/.unpacked ]]; then
    mkdir -p "$GPU_PREFIX/fallback" "$GPU_PREFIX/missing"
    local f
    for f in "$root"/gpu_bundle/*.deb; do dpkg -x "$f" "$GPU_PREFIX" || return 1; done
    for f in "$root"/gpu_bundle/fallback/*.deb; do dpkg -x "$f" "$GPU_PREFIX/fallback" || return 1; done
    # Debian's absolute links (libz.so -> /lib/...): into the prefix where it holds the target
    local link target
    while IFS= read -r link; do
      target=$(readlink "$link")
      [[ $target == /* && -e $GPU_PREFIX$target ]] && ln -sfn "$GPU_PREFIX$target" "$link"
    done < <(find "$GPU_PREFIX" -type l)
    ln -sf orterun "$GPU_PREFIX/usr/bin/mpirun"  # Debian sets these by update-alternatives
    ln -sf mpicc.openmpi "$GPU_PREFIX/usr/bin/mpicc"
    touch "$GPU_PREFIX/.unpacked"
  fi
  # torch's CMake prefix, asked before the bundle's libraries enter the library path
  local torch_prefix
  torch_prefix=$("$GPU_PY" -c 'import torch;print(torch.utils.cmake_prefix_path)') || {
    _gpu_env_note "$GPU_PY cannot import torch"
    return 1
  }
  export TORCH_PREFIX="$torch_prefix;$GPU_PREFIX/usr"
  export PATH=$GPU_PREFIX/usr/bin:$PATH
  export LD_LIBRARY_PATH=$L:$L/openmpi/lib:$L/hdf5/serial:$GPU_PREFIX/lib/x86_64-linux-gnu:$GPU_PREFIX/missing${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export OPAL_PREFIX=$GPU_PREFIX/usr PMIX_INSTALL_PREFIX=$L/pmix2
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_plm=isolated OMPI_MCA_btl_vader_single_copy_mechanism=none
  export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader,tcp OMPI_MCA_osc=^ucx OMPI_MCA_coll=^hcoll
  export OMPI_MCA_rmaps_base_oversubscribe=1
  gpu_env_fill_missing "$L" || return 1
  local zlib
  zlib=$(readlink -f "$L/libz.so")
  export CMAKE_GENERATOR=Ninja
  # the image's own c++ (GCC), as the rehearsals built it; build.sh would take a clang on PATH
  export CC=${CC:-cc} CXX=${CXX:-c++}
  export CMAKE_ARGS="-DMPI_C_COMPILER=$GPU_PREFIX/usr/bin/mpicc.openmpi \
    -DMPI_C_HEADER_DIR=$L/openmpi/include -DMPI_C_LIB_NAMES=mpi -DMPI_mpi_LIBRARY=$L/openmpi/lib/libmpi.so \
    -DHDF5_ROOT=$L/hdf5/serial -DHDF5_C_INCLUDE_DIR=$GPU_PREFIX/usr/include/hdf5/serial \
    -DCLI11_DIR=$GPU_PREFIX/usr/share/cmake/CLI11 -DGTest_DIR=$L/cmake/GTest \
    -DJPEG_INCLUDE_DIR=$GPU_PREFIX/usr/include -DJPEG_LIBRARY=$L/libjpeg.so \
    -DCMAKE_CXX_FLAGS=-I$GPU_PREFIX/usr/include/x86_64-linux-gnu \
    -DZLIB_INCLUDE_DIR=$GPU_PREFIX/usr/include -DZLIB_LIBRARY=$zlib"
  export SISYPHUS_PYTHON=$GPU_PY
  _gpu_env_note "bundle: $(ls "$root"/gpu_bundle/*.deb | wc -l) packages in $GPU_PREFIX; from the fallbacks: $(ls "$GPU_PREFIX/missing" | tr '\n' ' ')"
}

# Links into $GPU_PREFIX/missing every library that a bundled library or
# program needs, the system lacks and a fallback package holds; repeated until
# nothing more can be filled. Fails naming what stays unresolved.
gpu_env_fill_missing() {
  local L=$1 round missing name found unresolved
  for round in 1 2 3 4 5 6; do
    missing=$(gpu_env_unresolved "$L" | sort -u)
    [[ -z $missing ]] && return 0
    found=0
    for name in $missing; do
      local hit
      hit=$(find "$GPU_PREFIX/fallback" -name "$name" \( -type f -o -type l \) | head -1)
      if [[ -n $hit && ! -e $GPU_PREFIX/missing/$name ]]; then
        ln -sf "$(readlink -f "$hit")" "$GPU_PREFIX/missing/$name"
        found=1
      fi
    done
    ((found)) || break
  done
  unresolved=$(gpu_env_unresolved "$L" | sort -u | tr '\n' ' ')
  [[ -z $unresolved ]] && return 0
  _gpu_env_note "unresolved libraries (neither the image nor the bundle has them): $unresolved"
  return 1
}

# The sonames `ldd` cannot find for the bundle's libraries and programs.
gpu_env_unresolved() {
  local L=$1 f
  for f in "$L"/*.so* "$L"/openmpi/lib/*.so* "$L"/hdf5/serial/*.so* "$GPU_PREFIX"/usr/bin/orted \
           "$GPU_PREFIX"/usr/bin/orterun "$GPU_PREFIX"/missing/*; do
    [[ -f $f ]] || continue
    ldd "$f" 2>/dev/null | awk '/not found/ {print $1}'
  done
}

# Every bundled library and program with what ldd cannot resolve, one line each (preflight).
gpu_env_ldd_report() {
  local L=$GPU_PREFIX/usr/lib/x86_64-linux-gnu f bad n=0 nbad=0
  for f in "$L"/*.so* "$L"/openmpi/lib/*.so* "$L"/openmpi/lib/openmpi3/*.so "$L"/hdf5/serial/*.so* \
           "$GPU_PREFIX"/usr/bin/orted "$GPU_PREFIX"/usr/bin/orterun "$GPU_PREFIX"/usr/bin/h5dump; do
    [[ -f $f ]] || continue
    n=$((n + 1))
    bad=$(ldd "$f" 2>/dev/null | awk '/not found/ {print $1}' | tr '\n' ' ')
    if [[ -n $bad ]]; then
      nbad=$((nbad + 1))
      echo "  ldd ${f#$GPU_PREFIX/}: not found: $bad"
    fi
  done
  echo "  ldd: $n bundled files, $nbad with unresolved libraries"
}
