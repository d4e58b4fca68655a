/*
** fa_status.c -- status names and strings (from FA_STATUS_MAP), error messages.
*/
#include <stdio.h>
#include <string.h>
#include "fa_int.h"
#include "fa_ctx.h"

static const char *const status_names[] = {
#define FA_NAME_(name, text) "FA_" #name,
    FA_STATUS_MAP(FA_NAME_)
#undef FA_NAME_
};

static const char *const status_strings[] = {
#define FA_STRING_(name, text) text,
    FA_STATUS_MAP(FA_STRING_)
#undef FA_STRING_
};

const char *fa_status_name(fa_status s) {
  if ((int)s < 0 || s >= FA_STATUS_COUNT_) return "FA_UNKNOWN";
  return status_names[s];
}

const char *fa_status_string(fa_status s) {
  if ((int)s < 0 || s >= FA_STATUS_COUNT_) return "unknown status";
  return status_strings[s];
}

unsigned fa_version(void) { return FA_VERSION_HEX; }

#define FA_STR2_(x) #x
#define FA_STR_(x) FA_STR2_(x)
const char *fa_version_string(void) {
  return FA_STR_(FA_VERSION_MAJOR) "." FA_STR_(FA_VERSION_MINOR) "." FA_STR_(FA_VERSION_PATCH);
}

/* Calls without a context report here, one slot per thread. */
static _Thread_local char thread_errmsg[FA_ERRMSG_MAX];

char *fa_err_buf(const fa_context *ctx) {
  return ctx ? ((fa_context *)ctx)->errmsg : thread_errmsg;
}

const char *fa_errmsg(const fa_context *ctx) { return fa_err_buf(ctx); }

void fa_err_clear(fa_context *ctx) { fa_err_buf(ctx)[0] = '\0'; }

fa_status fa_verr(fa_context *ctx, fa_status s, const char *fmt, va_list ap) {
  char *buf = fa_err_buf(ctx);
  int n = snprintf(buf, FA_ERRMSG_MAX, "%s: ", fa_status_name(s));
  if (n < 0 || n >= FA_ERRMSG_MAX) n = 0;
  vsnprintf(buf + n, (size_t)(FA_ERRMSG_MAX - n), fmt, ap);
  return s;
}

fa_status fa_err(fa_context *ctx, fa_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fa_verr(ctx, s, fmt, ap);
  va_end(ap);
  return s;
}
