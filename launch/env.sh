# Sourced by the launch, test and benchmark scripts: where the project's
# Python environment lives (PyPI's torch; launch/install_deps.sh makes it).
# Outside the clone so that a fresh clone reuses it; SISYPHUS_VENV moves it.
SISYPHUS_VENV=${SISYPHUS_VENV:-/opt/sisyphus/venv}
SISYPHUS_PYTHON=${SISYPHUS_PYTHON:-$SISYPHUS_VENV/bin/python3}
export SISYPHUS_VENV SISYPHUS_PYTHON

# mpirun's -x for each of the named variables that is set (forwarding an
# unset one makes mpirun warn on every launch): mpi_forward PATH LD_LIBRARY_PATH ...
mpi_forward() {
  local v
  for v in "$@"; do [[ -n "${!v:-}" ]] && printf '%s\n' -x "$v"; done
  return 0
}
