/* The compute thread count (OpenMP), shared by every colorizer, training and
 * evaluation in the process, and by the backends that run them. */
#ifndef COLORIZE_THREADS_H
#define COLORIZE_THREADS_H

/* n <= 0 leaves the default. */
void cz_set_threads(int n);
int cz_threads(void);

#endif
