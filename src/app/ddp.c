/* Data-parallel collectives over MPI (or a world of one without it). */
#include <limits.h>
#include <stdlib.h>

#include "ddp.h"

#ifdef COLORIZE_MPI
#include <mpi.h>
#endif

int cz_ddp_available(void)
{
#ifdef COLORIZE_MPI
    return 1;
#else
    return 0;
#endif
}

int cz_ddp_launched(void)
{
    /* Open MPI's mpirun, then PMI/PMIx (MPICH, Slurm's srun). */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL};
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

cz_status cz_ddp_init(cz_ddp *d, int want)
{
    d->rank = 0;
    d->size = 1;
    d->owns_mpi = 0;
    if (want == 0 || (want < 0 && !cz_ddp_launched()))
        return CZ_OK;
#ifdef COLORIZE_MPI
    int up = 0;
    MPI_Initialized(&up);
    if (!up) {
        if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
            return cz_fail(CZ_ERR_IO, "MPI_Init failed (is this process started by mpirun or srun?)");
        d->owns_mpi = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    return CZ_OK;
#else
    return cz_fail(CZ_ERR_ARG, "data-parallel training is unavailable: colorize was built without MPI "
                               "(install libopenmpi-dev and openmpi-bin, then rebuild)");
#endif
}

void cz_ddp_finalize(cz_ddp *d)
{
#ifdef COLORIZE_MPI
    if (d->owns_mpi)
        MPI_Finalize();
#endif
    d->owns_mpi = 0;
}

#ifdef COLORIZE_MPI
/* MPI counts are ints: large buffers go in slices. */
#define DDP_SLICE ((size_t)1 << 30)

static cz_status mpi_check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return CZ_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return cz_fail(CZ_ERR_IO, "%s failed: %.*s", what, len, text);
}
#endif

#ifdef COLORIZE_MPI
/* In-place sum over ranks, in slices. */
static cz_status allreduce_sum(void *buf, size_t n, MPI_Datatype type, size_t elem, const char *what)
{
    for (size_t off = 0; off < n; off += DDP_SLICE) {
        int cnt = (int)(n - off < DDP_SLICE ? n - off : DDP_SLICE);
        cz_status st =
            mpi_check(MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, cnt, type, MPI_SUM, MPI_COMM_WORLD), what);
        if (st)
            return st;
    }
    return CZ_OK;
}
#endif

cz_status cz_ddp_allreduce_mean(const cz_ddp *d, float *buf, size_t n)
{
    if (d->size == 1)
        return CZ_OK;
#ifdef COLORIZE_MPI
    cz_status st = allreduce_sum(buf, n, MPI_FLOAT, sizeof *buf, "MPI_Allreduce of the gradients");
    const float scale = 1.0f / (float)d->size;
    for (size_t i = 0; !st && i < n; i++)
        buf[i] *= scale;
    return st;
#else
    (void)buf;
    (void)n;
    return CZ_OK;
#endif
}

cz_status cz_ddp_allreduce_sum_f64(const cz_ddp *d, double *buf, size_t n)
{
    if (d->size == 1)
        return CZ_OK;
#ifdef COLORIZE_MPI
    return allreduce_sum(buf, n, MPI_DOUBLE, sizeof *buf, "MPI_Allreduce of the metrics");
#else
    (void)buf;
    (void)n;
    return CZ_OK;
#endif
}

cz_status cz_ddp_broadcast(const cz_ddp *d, void *buf, size_t bytes, int root)
{
    if (d->size == 1)
        return CZ_OK;
#ifdef COLORIZE_MPI
    for (size_t off = 0; off < bytes; off += DDP_SLICE) {
        int cnt = (int)(bytes - off < DDP_SLICE ? bytes - off : DDP_SLICE);
        cz_status st = mpi_check(MPI_Bcast((char *)buf + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
        if (st)
            return st;
    }
#else
    (void)buf;
    (void)bytes;
    (void)root;
#endif
    return CZ_OK;
}

cz_status cz_ddp_barrier(const cz_ddp *d)
{
    if (d->size == 1)
        return CZ_OK;
#ifdef COLORIZE_MPI
    return mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#else
    return CZ_OK;
#endif
}

void cz_ddp_abort(const cz_ddp *d, int code)
{
    if (d->size == 1)
        return;
#ifdef COLORIZE_MPI
    MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
}
