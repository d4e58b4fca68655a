/*
** fa_int.h -- declarations shared inside libfa-runtime and with fa's own tools.
** Nothing here is public API; symbols are hidden (-fvisibility=hidden) in the
** shared library. Tools and tests link the static library and may use them.
*/
#ifndef FA_INT_H
#define FA_INT_H

#include <stdarg.h>
#include "fa.h"

#if defined(__GNUC__)
#define FA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FA_PRINTF(a, b)
#endif

#define FA_ERRMSG_MAX 4096

/* Records a failure's detail on ctx (NULL: this thread's slot) and returns s.
** The message is formatted like printf. */
fa_status fa_err(fa_context *ctx, fa_status s, const char *fmt, ...) FA_PRINTF(3, 4);
fa_status fa_verr(fa_context *ctx, fa_status s, const char *fmt, va_list ap);
/* Clears the message of ctx (NULL: this thread's). */
void fa_err_clear(fa_context *ctx);
/* The message buffer of ctx (NULL: this thread's); FA_ERRMSG_MAX bytes. */
char *fa_err_buf(const fa_context *ctx);

/* Problem helpers (fa_problem.c). */
int fa_problem_group(const fa_problem *p);              /* Hq / Hkv */
size_t fa_dtype_size(fa_dtype t);                       /* bytes per element, 0 if unknown */
const char *fa_dtype_name(fa_dtype t);                  /* "bf16", "fp16", "?" */
/* Number of elements a tensor with these strides spans: the highest offset + 1. */
int64_t fa_tensor_extent(const int64_t stride[3], int64_t b, int64_t s, int64_t h, int64_t d);

#endif
