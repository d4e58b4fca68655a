/* fa_embed.h -- the generator's Lua files and the templates, embedded at build time. */
#ifndef FA_EMBED_H
#define FA_EMBED_H
#include <stddef.h>
typedef struct fa_embedded_file {
  const char *name; /* file name without directory: "fa_gen.lua", "fwd_sm80.cu" */
  const char *text; /* NUL-terminated */
  size_t size;      /* bytes, without the NUL */
} fa_embedded_file;
extern const fa_embedded_file fa_embedded[]; /* ends with a NULL name */
#endif
