#include "win32.h"

#include <stdlib.h>

wchar_t *xipc__utf8_to_wide(const char *s, int *err) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0) {
    *err = xipc__fail(XIPC_EINVAL);
    return NULL;
  }
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (w == NULL) {
    *err = xipc__fail(XIPC_ENOMEM);
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
  return w;
}

char *xipc__wide_to_utf8(const wchar_t *s, int *err) {
  int n = WideCharToMultiByte(CP_UTF8, 0, s, -1, NULL, 0, NULL, NULL);
  if (n <= 0) {
    *err = xipc__fail_os();
    return NULL;
  }
  char *u = malloc((size_t)n);
  if (u == NULL) {
    *err = xipc__fail(XIPC_ENOMEM);
    return NULL;
  }
  WideCharToMultiByte(CP_UTF8, 0, s, -1, u, n, NULL, NULL);
  return u;
}
