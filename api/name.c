#include "internal.h"

#include <string.h>

static bool name_char_ok(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Characters first: a name with a bad character is XIPC_EINVAL whatever
 * its length, so XIPC_ENAMETOOLONG means "valid but too long". */
int xipc__check_name(const char *name) {
  size_t i;
  if (name == NULL || name[0] == '\0' || name[0] == '.')
    return XIPC_EINVAL;
  for (i = 0; name[i] != '\0'; i++)
    if (!name_char_ok(name[i]))
      return XIPC_EINVAL;
  return i > XIPC_NAME_MAX ? XIPC_ENAMETOOLONG : 0;
}

int xipc_name_check(const char *name) { return xipc__fail(xipc__check_name(name)); }
