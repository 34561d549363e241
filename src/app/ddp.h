/* Data-parallel training over MPI: the few collective calls a training step
 * needs (llm.c and PyTorch's DDP reduce one flat gradient buffer per step;
 * the parameters and gradients here live in one slab each). Without MPI at
 * build time every call is a single-process no-op and asking for more than
 * one process is refused with a message that says how to get MPI. */
#ifndef CZ_DDP_H
#define CZ_DDP_H

#include <stddef.h>

#include "colorize/error.h"

typedef struct cz_ddp {
    int rank, size;
    int owns_mpi; /* this process called MPI_Init (and will call MPI_Finalize) */
} cz_ddp;

/* 1 if colorize was built with MPI. */
int cz_ddp_available(void);

/* 1 if this process was started by an MPI launcher (mpirun, srun). */
int cz_ddp_launched(void);

/* Join the MPI world when `want` is 1, or when it is -1 and an MPI launcher
 * started this process; otherwise a world of one. */
cz_status cz_ddp_init(cz_ddp *d, int want);
void cz_ddp_finalize(cz_ddp *d);

/* In place: buf = mean over ranks of buf. */
cz_status cz_ddp_allreduce_mean(const cz_ddp *d, float *buf, size_t n);
/* In place: buf = sum over ranks of buf. */
cz_status cz_ddp_allreduce_sum_f64(const cz_ddp *d, double *buf, size_t n);
/* buf on every rank = buf on `root`. */
cz_status cz_ddp_broadcast(const cz_ddp *d, void *buf, size_t bytes, int root);
cz_status cz_ddp_barrier(const cz_ddp *d);
/* End every rank of the job with exit status `code` (MPI_Abort): for a
 * failure on one rank, which would leave the others waiting in a collective.
 * In a world of one it returns and the caller exits as usual. */
void cz_ddp_abort(const cz_ddp *d, int code);

#endif
