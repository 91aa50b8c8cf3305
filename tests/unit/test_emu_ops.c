/* The CUDA op-parity suite (test_cuda_ops.c) on the emulated accelerator emu:0: its kernels are the CPU's, so
 * every result must match the CPU's, and its memory faults when host code touches it outside a kernel. A crash
 * here (SIGSEGV, named by the suite's "CRASH ... in case" line) is host code dereferencing device data: a bug
 * in the op glue (or the test) that a GPU would turn into garbage or an illegal address. Runs on any machine. */
#define VT_TEST_EMU 1
#include "test_cuda_ops.c"
