#include "win32.h"

#include <aclapi.h>
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

/* Whether the SID that token information `cls` (TokenUser or TokenOwner)
 * names is `sid`. */
typedef union {
  TOKEN_USER user;
  TOKEN_OWNER owner;
  DWORD64 room[64]; /* the structure and the SID it points to */
} token_sid_buf;

/* The SID that token information `cls` (TokenUser or TokenOwner) names,
 * pointing into buf; NULL if the token cannot tell. */
static PSID token_sid(HANDLE tok, TOKEN_INFORMATION_CLASS cls,
                      token_sid_buf *buf) {
  DWORD n;
  if (!GetTokenInformation(tok, cls, buf, sizeof *buf, &n))
    return NULL;
  return cls == TokenUser ? buf->user.User.Sid : buf->owner.Owner;
}

static bool token_sid_is(HANDLE tok, TOKEN_INFORMATION_CLASS cls, PSID sid) {
  token_sid_buf buf;
  PSID mine = token_sid(tok, cls, &buf);
  return mine != NULL && EqualSid(mine, sid) != 0;
}

PSID xipc__token_user(HANDLE tok) {
  token_sid_buf buf;
  PSID sid = token_sid(tok, TokenUser, &buf);
  if (sid == NULL)
    return NULL;
  DWORD len = GetLengthSid(sid);
  PSID copy = LocalAlloc(LMEM_FIXED, len);
  if (copy != NULL && !CopySid(len, copy, sid)) {
    LocalFree(copy);
    copy = NULL;
  }
  return copy;
}

int xipc__check_owner(HANDLE h, unsigned flags) {
  if (flags & XIPC_ANY_OWNER)
    return 0;
  PSID owner = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  DWORD e = GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION,
                            &owner, NULL, NULL, NULL, &sd);
  if (e != ERROR_SUCCESS)
    return xipc__fail_sys((int)e);
  HANDLE tok;
  /* No owner at all: Wine gives objects made with the default security
   * descriptor none (Windows always sets one). Nothing to compare. */
  bool mine = owner == NULL;
  if (owner != NULL && OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok)) {
    mine = token_sid_is(tok, TokenUser, owner) ||
           token_sid_is(tok, TokenOwner, owner);
    CloseHandle(tok);
  }
  LocalFree(sd);
  return mine ? 0 : xipc__fail(XIPC_EACCES);
}
