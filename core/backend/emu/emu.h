/* The emulated accelerator's internals shared by its memory side (emu_backend.c) and its kernel tables
 * (emu_kernels.c). Not part of the public API. */
#ifndef VISFT_CORE_BACKEND_EMU_H
#define VISFT_CORE_BACKEND_EMU_H

#include "backend/backend.h"

/* Device mode: every emu arena of the process is readable and writable between enter and the matching leave
 * (nesting counts; any thread). Outside it ("host mode") the arenas are PROT_NONE. */
void vt_emu_enter(void);
void vt_emu_leave(void);

/* The kernel tables: families[f] wraps the CPU backend's table of family f (NULL where the CPU has none). */
void vt_emu_kernel_tables(const void *families[VT_FAM_COUNT]);

#endif
