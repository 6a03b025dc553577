// OpenBLAS's CBLAS interface (libopenblas-dev). Only TensorCore/BLAS.swift imports this module.
#include <cblas.h>
