/* xipc_proc_run, the portable half: Python's subprocess.run(input=...,
 * capture_output=True, timeout=...). The tree's xipc__stream_pump moves the
 * bytes; this file checks the options, grows the buffers, and kills and
 * reaps the child when the pump stops early. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Output buffers start at this size and double. */
#define FIRST_CAP 4096

int xipc__pump_room(xipc__pump_chan *c, size_t *avail) {
  size_t want = c->cap - c->len;
  if (want == 0) {
    size_t cap = c->cap ? c->cap * 2 : FIRST_CAP;
    char *p;
    /* Never allocate more than the limit needs: limit + 1 bytes tell
     * "exactly the limit" from "more than the limit". */
    if (c->limit > 0 && cap > c->limit + 1)
      cap = c->limit + 1;
    if (cap <= c->cap || (p = realloc(c->buf, cap)) == NULL)
      return xipc__fail(XIPC_ENOMEM);
    c->buf = p;
    c->cap = cap;
    want = c->cap - c->len;
  }
  *avail = want;
  return 0;
}

int xipc__pump_got(xipc__pump_chan *c, size_t n) {
  c->len += n;
  if (c->limit > 0 && c->len > c->limit) {
    c->len = c->limit;
    return xipc__fail(XIPC_EMSGSIZE);
  }
  return 0;
}

/* The spawn options of a run: the caller's, with stdout and stderr (unless
 * merged into stdout) captured and stdin a pipe when there is input. */
static int run_spawn_options(const xipc_run_options *o, xipc_spawn_options *sp) {
  static const xipc_spawn_options defaults = {0};
  *sp = o->spawn ? *o->spawn : defaults;
  if (o->timeout_ms < -1 || (o->input == NULL && o->input_len > 0))
    return XIPC_EINVAL;
  if (sp->stdout_mode != XIPC_STDIO_INHERIT ||
      (sp->stderr_mode != XIPC_STDIO_INHERIT &&
       sp->stderr_mode != XIPC_STDIO_STDOUT) ||
      (o->input != NULL && sp->stdin_mode != XIPC_STDIO_INHERIT))
    return XIPC_EINVAL; /* those streams are the run's own */
  sp->stdout_mode = XIPC_STDIO_PIPE;
  if (sp->stderr_mode != XIPC_STDIO_STDOUT)
    sp->stderr_mode = XIPC_STDIO_PIPE;
  if (o->input != NULL)
    sp->stdin_mode = XIPC_STDIO_PIPE;
  return 0;
}

/* Moves a captured channel into the result, NUL-terminated. */
static int take_output(xipc__pump_chan *c, char **out, size_t *len) {
  char *p = realloc(c->buf, c->len + 1);
  if (p == NULL)
    return xipc__fail(XIPC_ENOMEM);
  p[c->len] = '\0';
  *out = p;
  *len = c->len;
  c->buf = NULL;
  return 0;
}

/* Pumps until done, then waits for the exit within what is left of the
 * deadline. */
static int pump_and_wait(xipc_proc *p, xipc__pump_chan ch[3],
                         uint64_t deadline, xipc_exit_status *st) {
  int rc = xipc__stream_pump(ch, deadline);
  if (rc == 0) {
    rc = xipc_proc_wait(p, xipc__left_ms(deadline), st);
    if (rc == XIPC_EAGAIN)
      rc = xipc__fail(XIPC_ETIMEDOUT); /* the deadline had passed */
  }
  return rc;
}

int xipc_proc_run(const char *const argv[], const xipc_run_options *o,
                  xipc_run_result *r) {
  static const xipc_run_options defaults = {NULL, 0, -1, 0, NULL};
  xipc_spawn_options sp;
  xipc__pump_chan ch[3];
  xipc_proc *p = NULL;
  uint64_t deadline;
  int rc, rc2;
  if (r == NULL)
    return xipc__fail(XIPC_EINVAL);
  memset(r, 0, sizeof *r);
  if (o == NULL)
    o = &defaults;
  if ((rc = run_spawn_options(o, &sp)) != 0)
    return xipc__fail(rc);
  deadline = xipc__deadline_ns(o->timeout_ms);
  if ((rc = xipc_proc_spawn(&p, argv, &sp)) != 0)
    return rc;
  memset(ch, 0, sizeof ch);
  ch[0] = (xipc__pump_chan){xipc_proc_stdin(p), (char *)o->input, 0,
                            o->input_len, 0};
  ch[1] = (xipc__pump_chan){xipc_proc_stdout(p), NULL, 0, 0, o->max_output};
  ch[2] = (xipc__pump_chan){xipc_proc_stderr(p), NULL, 0, 0, o->max_output};
  rc = pump_and_wait(p, ch, deadline, &r->status);
  if (rc != 0) {
    /* Timed out, over the limit or failed: the child goes, and is reaped
     * so that its status is known. */
    (void)xipc_proc_kill(p);
    (void)xipc_proc_wait(p, -1, &r->status);
  }
  xipc_proc_close(p);
  rc2 = take_output(&ch[1], &r->out, &r->out_len);
  if (rc2 == 0)
    rc2 = take_output(&ch[2], &r->err, &r->err_len);
  free(ch[1].buf);
  free(ch[2].buf);
  if (rc == 0 && rc2 != 0)
    rc = rc2;
  if (rc == XIPC_ETIMEDOUT && o->timeout_ms == 0)
    rc = xipc__fail(XIPC_EAGAIN); /* timeout 0 is "never block" */
  return rc;
}

void xipc_run_result_free(xipc_run_result *r) {
  if (r == NULL)
    return;
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof *r);
}
